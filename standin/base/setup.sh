#!/bin/bash
# Runs inside the freshly debootstrapped root (chroot) before it is imported as afc-standin/base:bookworm.
set -euo pipefail
# The postgresql-15 package creates a default cluster; the postgres stand-in initialises its own in
# /var/lib/postgresql/data, so drop the packaged one.
rm -rf /etc/postgresql/15/main /var/lib/postgresql/15/main
# Nothing is installed with apt inside images (no network there): drop the package lists and caches.
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old /var/log/*.log /var/log/apt/*
rm -rf /usr/share/doc/* /usr/share/man/* /usr/share/info/*
# Docker provides these at run time; keep the host's out of the image.
rm -f /etc/resolv.conf /etc/hostname
: > /etc/machine-id
