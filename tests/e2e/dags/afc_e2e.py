"""A DAG for the end-to-end tests: a TaskFlow task passes data by XCom to a BashOperator."""
import socket
from datetime import datetime

try:  # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task
    from airflow.operators.bash import BashOperator


@dag(dag_id="afc_e2e", schedule=None, start_date=datetime(2024, 1, 1), catchup=False, tags=["afc"])
def afc_e2e():
    @task
    def produce() -> str:
        return f"hello-from-{socket.gethostname()}"

    consume = BashOperator(
        task_id="consume",
        bash_command='echo "got {{ ti.xcom_pull(task_ids=\'produce\') }}"; echo "ran-on=$(hostname)"',
    )
    produce() >> consume


afc_e2e()
