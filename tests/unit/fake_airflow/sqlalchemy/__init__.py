def text(sql):
    return sql
