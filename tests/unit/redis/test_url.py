"""realtime.redis.url: every documented URL form parses; bad ones say why, never the password."""

from __future__ import annotations

import re
import ssl
from pathlib import Path

import pytest

from realtime.redis.connections import PrimaryConnection, PrimarySSLConnection
from realtime.redis.url import (
    InvalidRedisUrl,
    RedisMode,
    TlsOptions,
    redis_target_parse,
    redis_url_mask,
)


@pytest.mark.parametrize(
    ("url", "host", "port", "db", "username", "password", "masked"),
    [
        ("redis://:pw@host:6379/0", "host", 6379, 0, None, "pw", "redis://***@host:6379/0"),
        (
            "redis://default:pw@db.example.com:25061/0",
            "db.example.com",
            25061,
            0,
            "default",
            "pw",
            "redis://***@db.example.com:25061/0",
        ),
        ("redis://host", "host", 6379, 0, None, None, "redis://host:6379"),
        ("redis://127.0.0.1:6380/3", "127.0.0.1", 6380, 3, None, None, "redis://127.0.0.1:6380/3"),
        ("redis://:pw@host", "host", 6379, 0, None, "pw", "redis://***@host:6379"),
        (
            "redis://:p%40ss%2Fw%3Ard%25@host:1/2",
            "host",
            1,
            2,
            None,
            "p@ss/w:rd%",
            "redis://***@host:1/2",
        ),
        ("redis://user@host:6379", "host", 6379, 0, "user", None, "redis://***@host:6379"),
        ("redis://[::1]:6379", "[::1]", 6379, 0, None, None, "redis://[::1]:6379"),
        ("REDIS://Host:7000", "Host", 7000, 0, None, None, "redis://Host:7000"),
        # An unescaped "/" or "@" in a password still parses: the last "@" ends the credentials.
        ("redis://:pa/ss@wo@rd@host:6379/1", "host", 6379, 1, None, "pa/ss@wo@rd", None),
    ],
)
def test_url_forms_parse(url, host, port, db, username, password, masked) -> None:
    target = redis_target_parse(url)
    assert (target.host, target.port, target.db) == (host, port, db)
    assert (target.username, target.password) == (username, password)
    assert target.tls is None
    if masked:
        assert target.masked == masked


def test_connection_kwargs_carry_credentials_for_redis_py() -> None:
    kwargs = redis_target_parse("redis://default:p%40ss@h:25061/4").connection_kwargs()
    assert kwargs == {
        "host": "h",
        "port": 25061,
        "db": 4,
        "username": "default",
        "password": "p@ss",
        "connection_class": PrimaryConnection,
    }


def test_rediss_verifies_with_a_ca_file() -> None:
    target = redis_target_parse(
        "rediss://default:pw@h:25061", TlsOptions(ca_file="/etc/ssl/ca.pem")
    )
    assert target.masked == "rediss://***@h:25061"
    kwargs = target.connection_kwargs()
    assert kwargs["connection_class"] is PrimarySSLConnection
    assert kwargs["ssl_ca_certs"] == "/etc/ssl/ca.pem"
    assert kwargs["ssl_cert_reqs"] == ssl.CERT_REQUIRED
    assert kwargs["ssl_check_hostname"] is True


def test_rediss_verification_off_only_when_asked() -> None:
    default = redis_target_parse("rediss://h").connection_kwargs()
    assert default["ssl_cert_reqs"] == ssl.CERT_REQUIRED
    insecure = redis_target_parse("rediss://h", TlsOptions(verify=False)).connection_kwargs()
    assert insecure["ssl_cert_reqs"] == ssl.CERT_NONE
    assert insecure["ssl_check_hostname"] is False


def test_tls_options_ignored_for_plain_redis() -> None:
    target = redis_target_parse("redis://h", TlsOptions(ca_file="/ca.pem"))
    assert target.tls is None
    assert target.connection_kwargs()["connection_class"] is PrimaryConnection


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("not a url", "REDIS_URL is not a URL"),
        ("", "REDIS_URL is empty"),
        ("redis://host:notaport", "port must be a number from 1 to 65535, got 'notaport'"),
        ("redis://host:70000", "port must be a number from 1 to 65535, got '70000'"),
        ("redis://host:6379/abc", "database must be a number after the '/', got 'abc'"),
        ("http://host:6379", "must start with redis://, rediss://, redis+sentinel:// or"),
        ("redis://a:1,b:2", "use redis+sentinel:// for sentinels or redis+cluster://"),
        ("redis+sentinel://s1:26379", "needs the master's name"),
        ("redis+sentinel://s1:26379/0/", "needs the master's name"),
        ("redis+sentinel://s1/x/murror", "database must be a number"),
        ("redis+sentinel://s1/ma$ter", "is not a valid name"),
        ("redis+cluster://n1:7000/1", "Redis Cluster has database 0 only"),
        ("redis+cluster://n1:7000,:7001", "has no host"),
        ("redis://", "REDIS_URL has no host"),
        ("redis://:pw@:6379", "REDIS_URL has no host"),
        ("redis://h o s t:6379", "is not a valid host name"),
        ("redis://host:6379/0?ssl_cert_reqs=none", "query parameters are not supported"),
    ],
)
def test_malformed_urls_name_the_problem(url: str, problem: str) -> None:
    with pytest.raises(InvalidRedisUrl) as raised:
        redis_target_parse(url)
    assert problem in str(raised.value)


@pytest.mark.parametrize(
    "url",
    [
        "redis://:Sup3rSecret@host:notaport",
        "redis://user:Sup3rSecret@:6379",
        "redis://:Sup3rSecret@host:6379/0?x=1",
        "redis:/:Sup3rSecret@host",
        "Sup3rSecret://:Sup3rSecret@host",
        "redis://:Sup3r%53ecret@ho st",
    ],
)
def test_malformed_url_errors_never_show_the_password(url: str) -> None:
    with pytest.raises(InvalidRedisUrl) as raised:
        redis_target_parse(url)
    message = str(raised.value)
    assert "Sup3rSecret" not in message
    assert "Sup3r%53ecret" not in message
    assert "Sup3r" not in redis_url_mask(url)


def test_a_targets_repr_never_shows_the_password() -> None:
    target = redis_target_parse("rediss://app:s3cret-p%40ss@cache.internal:6380/2")
    assert target.password == "s3cret-p@ss"
    assert "s3cret" not in repr(target) and "s3cret" not in str(target)


@pytest.mark.parametrize(
    ("url", "nodes", "db", "master_name", "masked"),
    [
        (
            "redis+sentinel://:pw@s1:26379,s2:26380,s3/murror",
            (("s1", 26379), ("s2", 26380), ("s3", 26379)),
            0,
            "murror",
            "redis+sentinel://***@s1:26379,s2:26380,s3:26379/murror",
        ),
        (
            "redis+sentinel://s1/2/my-master",
            (("s1", 26379),),
            2,
            "my-master",
            "redis+sentinel://s1:26379/2/my-master",
        ),
        ("redis+sentinel://s1/0/m", (("s1", 26379),), 0, "m", "redis+sentinel://s1:26379/0/m"),
    ],
)
def test_sentinel_urls_parse(url, nodes, db, master_name, masked) -> None:
    target = redis_target_parse(url, sentinel_password="sentinel secret")
    assert target.mode is RedisMode.SENTINEL
    assert (target.nodes, target.db, target.master_name) == (nodes, db, master_name)
    assert target.masked == masked
    assert target.sentinel_kwargs()["password"] == "sentinel secret"
    assert target.sentinel_kwargs()["retry"].get_retries() == 0
    assert "sentinel secret" not in repr(target)


def test_cluster_urls_parse_and_name_no_database() -> None:
    target = redis_target_parse("rediss+cluster://app:p%40ss@n1:7000,n2:7001,[::1]:7002")
    assert target.mode is RedisMode.CLUSTER
    assert target.nodes == (("n1", 7000), ("n2", 7001), ("[::1]", 7002))
    assert target.masked == "rediss+cluster://***@n1:7000,n2:7001,[::1]:7002"
    assert target.address == "n1:7000,n2:7001,[::1]:7002"
    kwargs = target.node_kwargs()
    assert "db" not in kwargs
    assert (kwargs["username"], kwargs["password"], kwargs["ssl"]) == ("app", "p@ss", True)
    assert kwargs["ssl_cert_reqs"] == ssl.CERT_REQUIRED


def test_a_plain_url_is_standalone_with_its_one_node() -> None:
    target = redis_target_parse("redis://h:1")
    assert (target.mode, target.nodes, target.master_name) == (
        RedisMode.STANDALONE,
        (("h", 1),),
        None,
    )
    assert target.sentinel_password is None


def documented_urls() -> list[str]:
    """Every concrete REDIS_URL the docs show: not the forms with [optional] parts, `...` or
    `host:port`, the masked ones, or the malformed example (`notaport`)."""
    docs = Path(__file__).resolve().parents[3] / "docs"
    text = (docs / "operations.md").read_text() + (docs / "redis-topologies.md").read_text()
    urls = re.findall(r"(?:`|REDIS_URL=')(rediss?(?:\+\w+)?://[^`'\s]+)", text)
    placeholders = ("[", "...", ":port", "***", "notaport")
    return sorted({url for url in urls if not any(part in url for part in placeholders)})


@pytest.mark.parametrize("url", documented_urls())
def test_every_url_the_docs_show_parses(url: str) -> None:
    target = redis_target_parse(url)
    assert target.password is None or target.password not in target.masked


def test_the_docs_show_every_topology() -> None:
    modes = {redis_target_parse(url).mode for url in documented_urls()}
    assert modes == set(RedisMode)
