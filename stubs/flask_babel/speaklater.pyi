"""Type stubs for flask_babel.speaklater: the lazy string that lazy_gettext returns."""

from collections.abc import Callable

# At run time LazyString is no str subclass, but it proxies every str method and renders as its
# translation wherever WTForms, Jinja, str() and f-strings take text; as a str to the checker,
# lazy labels and messages check where text is expected.
class LazyString(str):
    def __new__(cls, func: Callable[..., str], *args: object, **kwargs: object) -> LazyString: ...
    def __html__(self) -> str: ...
