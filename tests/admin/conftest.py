"""The browser harness's fixtures for every admin test module (see tests/admin/browser.py)."""

from tests.admin.browser import browser, page, site

__all__ = ["browser", "page", "site"]
