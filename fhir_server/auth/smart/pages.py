"""The login and approval pages of `/auth/authorize`: plain HTML forms, Chinese with English.

Spec: SMART App Launch 2.x "Obtain authorization code" (the server authenticates the user and asks
for approval of the requested scopes); the form field names are fixed by INTERFACE.md: `username`
and `password` on the login page, submit buttons named `decision` with values `approve` / `deny`
on the approval page.  Every value written into a page is HTML-escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from ..scopes import Scope, ScopeError, parse_scope

_PERMISSION_TEXT = {
    "c": ("创建", "create"),
    "r": ("读取", "read"),
    "u": ("修改", "update"),
    "d": ("删除", "delete"),
    "s": ("检索", "search"),
}
_CONTEXT_TEXT = {
    "patient": ("当前居民的", "the selected resident's"),
    "user": ("您有权访问的", "everything you may access:"),
    "system": ("系统范围内的", "system-wide"),
}
_OTHER_TEXT = {
    "openid": ("确认您的身份", "confirm your identity"),
    "fhirUser": ("获知您的用户身份（居民或医生）", "know who you are (resident or practitioner)"),
    "profile": ("读取您的基本资料", "read your basic profile"),
    "launch": ("从当前系统的上下文启动", "launch from the current EHR context"),
    "launch/patient": ("选择一位居民", "select a resident"),
    "launch/encounter": ("选择一次就诊", "select an encounter"),
    "offline_access": ("在您离线时继续访问", "keep access while you are offline"),
    "online_access": ("在您在线期间持续访问", "keep access while you are online"),
}

_STYLE = (
    "body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em}"
    "label{display:block;margin:.6em 0}.error{color:#a00}li{margin:.3em 0}"
    "button{margin-right:1em;padding:.4em 1.2em}"
)


def describe_scope(text: str) -> str:
    """A scope in Chinese with English, e.g. "读取、检索 当前居民的 Observation (read, search …)"."""
    try:
        parsed = parse_scope(text)
    except ScopeError:
        return text
    if isinstance(parsed, str):
        zh, en = _OTHER_TEXT[parsed]
        return f"{zh} — {en}"
    return _describe_clinical(parsed)


def _describe_clinical(scope: Scope) -> str:
    letters = [c for c in "cruds" if c in scope.permissions]
    zh_perm = "、".join(_PERMISSION_TEXT[c][0] for c in letters)
    en_perm = ", ".join(_PERMISSION_TEXT[c][1] for c in letters)
    zh_ctx, en_ctx = _CONTEXT_TEXT[scope.context]
    what = "全部资源" if scope.resource_type == "*" else scope.resource_type
    en_what = "all resources" if scope.resource_type == "*" else scope.resource_type
    limit = ""
    if scope.query:
        q = "&".join(f"{k}={v}" for k, v in scope.query)
        limit = f"（限于 {q} / only where {q}）"
    return f"{zh_perm} {zh_ctx}{what}{limit} — {en_perm} {en_ctx} {en_what}"


def _hidden(fields: Mapping[str, str]) -> str:
    return "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
        for k, v in fields.items()
        if v
    )


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def login_page(
    action: str, fields: Mapping[str, str], client_id: str, error: str | None = None
) -> str:
    """Login form: `username`, `password`; the authorization request rides along in hidden fields."""
    message = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    body = (
        "<h1>家医 登录 · Jiayi sign-in</h1>"
        f"<p>应用 <b>{escape(client_id)}</b> 请求访问您的健康数据。"
        f"<br>The app <b>{escape(client_id)}</b> asks to access health data.</p>{message}"
        f'<form method="post" action="{escape(action)}">{_hidden(fields)}'
        '<label>用户名 Username <input name="username" autocomplete="username" required></label>'
        '<label>密码 Password <input name="password" type="password" '
        'autocomplete="current-password" required></label>'
        '<button type="submit">登录 Sign in</button></form>'
    )
    return _page("登录 Sign in", body)


def approval_page(
    action: str,
    ticket: str,
    client_id: str,
    scopes: list[str],
    *,
    ask_patient: bool = False,
    patient: str | None = None,
    error: str | None = None,
) -> str:
    """Approval form: the scopes listed, buttons `decision=approve` / `decision=deny`."""
    items = "".join(
        f"<li><code>{escape(s)}</code>: {escape(describe_scope(s))}</li>" for s in scopes
    )
    message = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    picker = ""
    if ask_patient:
        picker = (
            '<label>居民（患者）ID · Patient id <input name="patient" '
            f'value="{escape(patient or "")}"></label>'
        )
    elif patient:
        picker = f"<p>居民 Patient: <code>Patient/{escape(patient)}</code></p>"
    body = (
        "<h1>授权确认 · Approve access</h1>"
        f"<p>应用 <b>{escape(client_id)}</b> 请求以下权限："
        f"<br>The app <b>{escape(client_id)}</b> requests these permissions:</p>"
        f"<ul>{items}</ul>{message}"
        f'<form method="post" action="{escape(action)}">{_hidden({"ticket": ticket})}{picker}'
        '<button type="submit" name="decision" value="approve">同意 Approve</button>'
        '<button type="submit" name="decision" value="deny">拒绝 Deny</button></form>'
    )
    return _page("授权确认 Approve access", body)


def error_page(message: str) -> str:
    """For errors that must not redirect (unknown client, unregistered redirect URI)."""
    return _page(
        "授权错误 Authorization error",
        f'<h1>授权错误 · Authorization error</h1><p class="error">{escape(message)}</p>',
    )
