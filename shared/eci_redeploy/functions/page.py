"""`GET /` of the webhook function (and of `serve`): the operator's page.

Rules and the groups each selects, what each group runs against the newest allowed tag and what the
next reconcile would do (operations/inventory.py, a dry run), held changes with an Approve button, and
the groups' recent history as a timeline (operations/history.py, from their tracking records).

Plain server-rendered HTML: no script, no external asset, every value escaped (`html.escape`), under
a Content-Security-Policy that allows only the page's own stylesheet (by its hash) and forms posted
to this origin. The same tokens as the API: the webhook token shows the page (viewer); an approver's
token (a rule's `gates.approval.approvers_env`) also shows Approve buttons for that rule's holds. The
button posts to the existing POST /approvals/<id> with that token; a browser's form post is answered
with 303 back to the page (webhook.py), an API call as before.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from ..core.errors import AuthenticationError, EciRedeployError
from ..events.adapters.fc_http import HttpRequest, reply
from ..report.audit import short_digest, version_text
from ..rules.model import RuleSet

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f5f6f8}
header{background:#1d2330;color:#fff;padding:12px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#c5cad3}main{padding:8px 24px 32px}
h2{font-size:16px;margin:24px 0 8px}h3{font-size:15px;margin:0 0 4px}
.card{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:12px 16px;margin:0 0 12px}
.meta{color:#5b6474;margin:0 0 8px}.warn{color:#9a3b00;margin:4px 0}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;border-top:1px solid #eceff3}
th{color:#5b6474;font-weight:600;white-space:nowrap}td{vertical-align:top;white-space:nowrap}
td:last-child{white-space:normal;overflow-wrap:anywhere;width:100%}code{font:12px ui-monospace,monospace}
.update{color:#0b6b2f;font-weight:600}.none{color:#5b6474}.deferred,.held{color:#9a3b00}
.timeline{list-style:none;padding:0;margin:0;border-left:3px solid #c9d1dc}
.timeline li{padding:4px 0 4px 14px;position:relative}
.timeline li:before{content:"";position:absolute;left:-8px;top:10px;width:12px;height:12px;border-radius:50%;
background:#3a6df0}
.timeline time{color:#5b6474;margin-right:8px}
button{background:#0b6b2f;color:#fff;border:0;border-radius:4px;padding:6px 14px;font-weight:600;cursor:pointer}
"""
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
CSP = (
    f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the page's address may carry ?token=
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


def e(value: Any) -> str:
    """Every value that reaches the page goes through here."""
    return html.escape("" if value is None else str(value), quote=True)


def who(request: HttpRequest, settings: Any, rules: RuleSet, env: Mapping[str, str]) -> tuple[str, set[str]]:
    """(who is looking, the rules whose holds they may approve); AuthenticationError when neither a
    viewer (the webhook token) nor an approver of some rule."""
    from ..events.auth import check_token, presented_token
    from .gate_endpoints import approvers, who_approves

    token = presented_token(request)
    may: set[str] = set()
    name = None
    for rule in rules:
        gates = rules.gates_for(rule)
        if gates is not None and gates.approval is not None:
            found = who_approves(token, approvers(env.get(gates.approval.approvers_env)))
            if found:
                may.add(rule.name)
                name = name or found
    if name:
        return f"approver {name}", may
    check_token(request, settings.webhook_token)
    return "viewer", may


def handle(
    request: HttpRequest, settings: Any, rules: RuleSet, env: Mapping[str, str], gateway: Any, clients: Any
) -> dict[str, Any]:
    if request.method != "GET":
        return reply(405, {"error": "use GET"})
    try:
        viewer, may = who(request, settings, rules, env)
    except AuthenticationError as exc:
        return reply(401, {"error": f"{exc.one_line()} (token in Authorization: Bearer or ?token=)"})
    try:
        if request.path.rstrip("/") == "/rules":
            from ..operations.inventory import inventory

            return reply(200, inventory(rules, gateway, clients, env))
        body = render(rules, gateway, clients, env, viewer, may, token=_token(request) if may else None)
    except EciRedeployError as exc:
        return reply(503, {"error": exc.one_line()})
    return {"statusCode": 200, "headers": dict(HEADERS), "isBase64Encoded": False, "body": body}


def _token(request: HttpRequest) -> str | None:
    from ..events.auth import presented_token

    return presented_token(request)


def render(
    rules: RuleSet, gateway: Any, clients: Any, env: Mapping[str, str], viewer: str, may: set[str], *, token: str | None
) -> str:
    from ..gates.flow import status
    from ..operations.history import from_groups
    from ..operations.inventory import collect

    now = datetime.now(timezone.utc)
    listed, groups = collect(rules, gateway, clients, env)
    held = status(rules, gateway, now=now) if any(rules.gates_for(r) for r in rules) else {"held": [], "refused": []}
    timeline = sorted(from_groups(groups.values(), rules), key=lambda x: x["time"] or "", reverse=True)[:50]
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>eci-redeploy</title><style>{STYLE}</style></head><body>",
        f"<header><h1>eci-redeploy</h1><p>{e(len(listed['rules']))} rule(s) · as of "
        f"{e(now.strftime('%Y-%m-%d %H:%M:%S'))} UTC · {e(viewer)}</p></header><main>",
        '<h2 id="rules">Rules and groups</h2>',
        *(_rule_card(r) for r in listed["rules"]),
        '<h2 id="held">Held changes</h2>',
        _held(held, may, token),
        '<h2 id="history">Recent history</h2>',
        _timeline(timeline),
        "</main></body></html>",
    ]
    return "".join(parts)


def _rule_card(r: dict[str, Any]) -> str:
    newest = r["newest"]
    newest_text = version_text(newest["tag"], newest["digest"]) if newest else "(unknown)"
    rows = []
    for g in r["groups"]:
        nxt = g["next"]
        kind = "update" if "image" in nxt else nxt["action"] if nxt["action"] in ("deferred", "held") else "none"
        then = f"{nxt['action']} → {nxt['image']}" if "image" in nxt else _reason(nxt)
        frozen = " (frozen)" if g["frozen"] else ""
        rows.append(
            f"<tr><td>{e(g['name'])}<br><code>{e(g['id'])}</code></td><td>{e(g['status'])}{e(frozen)}</td>"
            f"<td>{e(version_text(g['running']['tag'], g['running']['digest']))}</td><td>{e(newest_text)}</td>"
            f'<td class="{kind}">{e(then)}</td></tr>'
        )
    table = (
        "<table><thead><tr><th>group</th><th>status</th><th>running</th><th>newest allowed</th>"
        f"<th>next reconcile</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        if rows
        else '<p class="warn">no container group</p>'
    )
    notes = "".join(f'<p class="warn">{e(n)}</p>' for n in r["notes"])
    return (
        f'<section class="card rule"><h3>{e(r["rule"])}</h3>'
        f'<p class="meta">{e(r["registry"] or "?")}/{e(r["repository"])} · {e(r["action"])} {e(r["target"])} · '
        f"{e(r['policy'])}</p>{notes}{table}</section>"
    )


def _reason(nxt: dict[str, Any]) -> str:
    held = nxt["action"] == "held"  # its reason says "held (...)" already
    return str(nxt["reason"]) if held else f"{nxt['action']}: {nxt['reason']}"


def _held(held: dict[str, Any], may: set[str], token: str | None) -> str:
    items = held.get("held", []) + held.get("refused", [])
    if not items:
        return '<p class="card none">nothing is held</p>'
    rows = []
    for h in items:
        waiting = ", ".join(w["gate"] for w in h.get("waiting_on", [])) or h["state"]
        action = ""
        if h["state"] == "held" and h["rule"] in may and token:
            # The id as the gates API gives it; the token the page was opened with (an approver's).
            target = f"/approvals/{quote(h['id'], safe='')}?token={quote(token, safe='')}"
            action = (
                f'<form class="approve" method="post" action="{e(target)}">'
                f'<button type="submit" id="approve-{e(h["id"])}">Approve</button></form>'
            )
        rows.append(
            f"<tr><td><code>{e(h['id'])}</code></td><td>{e(h['rule'])}</td>"
            f"<td>{e(version_text(h.get('tag'), h.get('version')))}</td><td>{e(h['since'][:19])}</td>"
            f"<td>{e(waiting)}</td><td>{e(', '.join(h['groups']))}</td><td>{action}</td></tr>"
        )
    return (
        '<div class="card"><table><thead><tr><th>id</th><th>rule</th><th>version</th><th>held since</th>'
        f"<th>waiting on</th><th>groups</th><th></th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _timeline(entries: list[dict[str, Any]]) -> str:
    if not entries:
        return '<p class="card none">no change recorded on the groups yet</p>'
    items = []
    for x in entries:
        where = f"{x['group_name']} ({x['group']})" if x["group_name"] else x["group"]
        version = version_text(x["tag_after"], x["digest_after"])
        before = f" (before: {short_digest(x['digest_before'])})" if x["digest_before"] else ""
        items.append(
            f"<li><time>{e((x['time'] or '?')[:19].replace('T', ' '))}</time>{e(x['rule'])} · {e(where)} · "
            f"now {e(version)}{e(before)}</li>"
        )
    return f'<div class="card"><ol class="timeline">{"".join(items)}</ol></div>'
