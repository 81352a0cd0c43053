from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from core.config import BACKEND_DIR, DEV_SECRET_KEY, Settings

STRONG_KEY = "q7Jx2m9Lk3Vb8Nw4Rt6Yp1Zs5Hd0Gf2Ca7Ue9Io3Xn"


class TestProductionSecret:
    def test_refuses_the_default_key(self):
        with pytest.raises(ValidationError, match="VIGIL_SECRET_KEY"):
            Settings(env="production")

    def test_refuses_a_short_key(self):
        with pytest.raises(ValidationError, match="VIGIL_SECRET_KEY"):
            Settings(env="production", secret_key="short")

    def test_refuses_default_key_from_the_environment(self, monkeypatch):
        monkeypatch.setenv("VIGIL_ENV", "production")
        monkeypatch.setenv("VIGIL_SECRET_KEY", DEV_SECRET_KEY)
        with pytest.raises(ValidationError):
            Settings()

    def test_accepts_a_real_key(self):
        cfg = Settings(env="production", secret_key=STRONG_KEY)
        assert cfg.is_production
        assert cfg.json_logs is True
        assert STRONG_KEY not in repr(cfg)

    def test_development_accepts_the_default(self):
        assert Settings(env="development").secret_key.get_secret_value() == DEV_SECRET_KEY


class TestListsAndValidation:
    def test_comma_separated_origins(self, monkeypatch):
        monkeypatch.setenv("VIGIL_CORS_ORIGINS", "https://a.example, https://b.example")
        assert Settings().cors_origins == ["https://a.example", "https://b.example"]

    def test_json_list_origins(self, monkeypatch):
        monkeypatch.setenv("VIGIL_CORS_ORIGINS", '["https://a.example"]')
        assert Settings().cors_origins == ["https://a.example"]

    def test_wildcard_origin_refused(self):
        with pytest.raises(ValidationError, match="explicitly"):
            Settings(cors_origins=["*"])

    def test_bad_proxy_network_refused(self):
        with pytest.raises(ValidationError):
            Settings(trusted_proxies=["not-a-network"])

    def test_empty_redis_url_means_none(self, monkeypatch):
        monkeypatch.setenv("VIGIL_REDIS_URL", "")
        assert Settings().redis_url is None


def test_env_example_lists_every_setting():
    text = (BACKEND_DIR / ".env.example").read_text()
    listed = set(re.findall(r"^#?\s*VIGIL_([A-Z0-9_]+)=", text, flags=re.MULTILINE))
    declared = {name.upper() for name in Settings.model_fields}
    assert declared - listed == set(), "settings missing from .env.example"
    assert listed - declared == set(), ".env.example lists settings that do not exist"
