"""What every browser test starts from: the app served by `streamlit run app.py` on a free
loopback port (bench/appserver.py), once per test module. A module that needs the app otherwise
(hosted mode: test_browser_hostile.py) defines its own `server`."""
import pytest

from bench.appserver import ServerError, running_app

STARTUP_SECONDS = 120   # streamlit imports torch on the first page load; CI machines are slow


@pytest.fixture(scope="module")
def server():
    try:
        with running_app(STARTUP_SECONDS) as url:
            yield url
    except ServerError as error:
        pytest.fail(str(error))
