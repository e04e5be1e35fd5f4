from tests.web.takedown.conftest import client_of, consenting_case, jpeg, loopback, photo, platform, site

__all__ = ["client_of", "consenting_case", "jpeg", "loopback", "photo", "platform", "site"]
