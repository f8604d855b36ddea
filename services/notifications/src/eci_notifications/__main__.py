"""`python -m eci_notifications`: one process serving the REST API and the Kafka side."""

from eci_common.server import serve
from eci_notifications.main import create_app
from eci_notifications.settings import Settings


def main() -> None:
    settings = Settings()  # read from the environment
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
