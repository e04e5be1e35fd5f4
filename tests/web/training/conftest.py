from tests.web.takedown.conftest import jpeg, loopback, photo, site

__all__ = ["jpeg", "loopback", "photo", "site"]
