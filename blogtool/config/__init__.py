"""Site configuration: ``blogtool.toml`` read once into frozen objects.

``model`` declares every key once (type, default, check, docs); ``load`` reads and validates the
file; ``dump`` prints the effective configuration and the reference.
"""

from blogtool.config.dump import as_dict, dump_toml
from blogtool.config.load import (
    CONFIG_NAME,
    config_line,
    config_lines,
    default_addresses,
    find_root,
    line_in,
    load_config,
    parse_config,
)
from blogtool.config.mailmodel import (
    BouncesConfig,
    MailingList,
    NewsletterConfig,
    SmtpConfig,
    WebConfig,
)
from blogtool.config.model import (
    BuildConfig,
    CheckConfig,
    Config,
    RunConfig,
    Service,
    SiteConfig,
    TipsConfig,
)

__all__ = [
    "CONFIG_NAME",
    "BouncesConfig",
    "BuildConfig",
    "CheckConfig",
    "Config",
    "MailingList",
    "NewsletterConfig",
    "RunConfig",
    "Service",
    "SiteConfig",
    "SmtpConfig",
    "TipsConfig",
    "WebConfig",
    "as_dict",
    "config_line",
    "config_lines",
    "default_addresses",
    "dump_toml",
    "find_root",
    "line_in",
    "load_config",
    "parse_config",
]
