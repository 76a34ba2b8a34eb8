"""Static HTML summary of the guide: `index.html` plus one page per resource, Chinese and English text.

No scripts, no web fonts, no network: one stylesheet (`style.css`) and relative links only.  A page shows
a resource's title, canonical URL, description and the table that matters for its kind (a profile's
differential elements and invariants, a code system's concepts, a value set's composition, a package's
actions, an operation's parameters, a search parameter's expression), followed by its JSON.  Canonical
URLs that the guide defines link to their own page.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .package import PACKAGE_NAME, PACKAGE_VERSION, IgResource

SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("profiles", "约束（Profile）", "Profiles"),
    ("extensions", "扩展", "Extensions"),
    ("codesystems", "代码系统", "Code systems"),
    ("valuesets", "值集", "Value sets"),
    ("operations", "操作", "Operations"),
    ("searchparameters", "检索参数", "Search parameters"),
    ("packages", "服务包", "Service packages"),
    ("items", "服务项目", "Service items"),
    ("measures", "指标", "Indicators"),
    ("other", "其他定义", "Other definitions"),
    ("examples", "示例", "Examples"),
)

STYLE = """body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:2em auto;max-width:70em;
padding:0 1em;color:#222;line-height:1.5}a{color:#0b5394}table{border-collapse:collapse;width:100%;margin:1em 0}
th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top;font-size:.92em}
th{background:#eef3f8}pre{background:#f6f8fa;padding:1em;overflow:auto;font-size:.85em}
code{background:#f3f3f3;padding:0 .2em}.muted{color:#666}nav{margin-bottom:1em}h1{font-size:1.6em}
"""


def section_of(item: IgResource) -> str:
    """Which index section a resource is listed in."""
    if item.is_example:
        return "examples"
    rtype, res = item.resource_type, item.resource
    if rtype == "StructureDefinition":
        return "extensions" if res.get("type") == "Extension" else "profiles"
    return {
        "CodeSystem": "codesystems",
        "ValueSet": "valuesets",
        "OperationDefinition": "operations",
        "SearchParameter": "searchparameters",
        "PlanDefinition": "packages",
        "ActivityDefinition": "items",
        "Measure": "measures",
    }.get(rtype, "other")


def page_name(item: IgResource) -> str:
    prefix = "example-" if item.is_example else ""
    return f"{prefix}{item.resource_type}-{item.id}.html"


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


class SiteWriter:
    """Renders the pages of one build; `links` maps canonical URLs of the guide to page names."""

    def __init__(self, resources: list[IgResource]) -> None:
        self.resources = resources
        self.links: dict[str, str] = {}
        for item in resources:
            url = item.resource.get("url")
            if isinstance(url, str) and not item.is_example:
                self.links.setdefault(url, page_name(item))

    def link(self, url: str | None) -> str:
        if not url:
            return ""
        base = url.split("|")[0]
        target = self.links.get(base)
        return f'<a href="{_e(target)}">{_e(url)}</a>' if target else f"<code>{_e(url)}</code>"

    def write(self, out: Path) -> list[Path]:
        out.mkdir(parents=True, exist_ok=True)
        (out / "style.css").write_text(STYLE, encoding="utf-8")
        written = [out / "index.html"]
        written[0].write_text(self.index(), encoding="utf-8")
        for item in self.resources:
            path = out / page_name(item)
            path.write_text(self.page(item), encoding="utf-8")
            written.append(path)
        return written

    def _doc(self, title: str, body: str, nav: bool = True) -> str:
        back = '<nav><a href="index.html">← 目录 Contents</a></nav>' if nav else ""
        return (
            '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
            f'<title>{_e(title)}</title><link rel="stylesheet" href="style.css"></head>'
            f"<body>{back}{body}</body></html>\n"
        )

    def index(self) -> str:
        parts = [
            f"<h1>家医 Jiayi 实施指南 Implementation guide</h1><p>{_e(PACKAGE_NAME)} {_e(PACKAGE_VERSION)}"
            " · FHIR R4 4.0.1 · canonical <code>https://jiayi.health/fhir</code></p>"
            "<p>家庭医生签约服务的约束、扩展、术语、服务包、操作与示例。Profiles, extensions, terminology, "
            "service packages, operations and examples for family-doctor contract services.</p>"
        ]
        for key, zh, en in SECTIONS:
            items = [i for i in self.resources if section_of(i) == key]
            if not items:
                continue
            rows = "".join(
                f'<tr><td><a href="{_e(page_name(i))}">{_e(i.resource.get("title") or i.resource.get("name") or i.id)}</a></td>'
                f"<td>{_e(i.resource_type)}/{_e(i.id)}</td><td>{self.link(i.resource.get('url'))}</td></tr>"
                for i in items
            )
            parts.append(
                f'<h2 id="{key}">{_e(zh)} {_e(en)} <span class="muted">({len(items)})</span></h2>'
                f"<table><tr><th>名称 Title</th><th>资源 Resource</th><th>URL</th></tr>{rows}</table>"
            )
        return self._doc("Jiayi implementation guide", "".join(parts), nav=False)

    def page(self, item: IgResource) -> str:
        res = item.resource
        title = res.get("title") or res.get("name") or f"{item.resource_type}/{item.id}"
        head = [f"<h1>{_e(title)}</h1>", f"<p>{_e(item.resource_type)}/{_e(item.id)}"]
        if res.get("url"):
            head.append(f" · <code>{_e(res['url'])}</code>")
        if res.get("version"):
            head.append(f" · {_e(res['version'])}")
        head.append(f' · <span class="muted">{_e(item.source)}</span></p>')
        if res.get("description"):
            head.append(f"<h2>说明 Description</h2><p>{_e(res['description'])}</p>")
        renderer = self.RENDERERS.get(item.resource_type)
        body = renderer(self, res) if renderer else ""
        raw = json.dumps(res, ensure_ascii=False, indent=2)
        tail = f"<h2>JSON</h2><pre>{_e(raw)}</pre>"
        return self._doc(str(title), "".join(head) + body + tail)

    # --- one renderer per resource type -------------------------------------------------------

    def structure_definition(self, res: dict[str, Any]) -> str:
        out = [
            f"<p>基础 Base: {self.link(res.get('baseDefinition'))} · 类型 Type: {_e(res.get('type'))}</p>"
        ]
        contexts = ", ".join(_e(c.get("expression")) for c in res.get("context", []))
        if contexts:
            out.append(f"<p>使用场景 Context: {contexts}</p>")
        rows, invariants = [], []
        for el in res.get("differential", {}).get("element", []):
            card = f"{el.get('min', '')}..{el.get('max', '')}" if "min" in el or "max" in el else ""
            types = []
            for t in el.get("type", []):
                profiles = [self.link(p) for p in t.get("profile", []) + t.get("targetProfile", [])]
                types.append(_e(t.get("code")) + (f" ({', '.join(profiles)})" if profiles else ""))
            fixed = "; ".join(
                f"{_e(k)} = <code>{_e(json.dumps(v, ensure_ascii=False))}</code>"
                for k, v in el.items()
                if k.startswith(("fixed", "pattern"))
            )
            binding = el.get("binding", {})
            bind = (
                f"{self.link(binding.get('valueSet'))} ({_e(binding.get('strength'))})"
                if binding
                else ""
            )
            rows.append(
                f"<tr><td>{_e(el.get('id') or el.get('path'))}</td><td>{_e(card)}</td><td>{'<br>'.join(types)}</td>"
                f"<td>{_e(el.get('short', ''))}</td><td>{fixed}</td><td>{bind}</td></tr>"
            )
            for c in el.get("constraint", []):
                invariants.append(
                    f"<tr><td>{_e(c.get('key'))}</td><td>{_e(c.get('severity'))}</td><td>{_e(c.get('human'))}</td>"
                    f"<td><code>{_e(c.get('expression'))}</code></td></tr>"
                )
        out.append(
            "<h2>差异 Differential</h2><table><tr><th>元素 Element</th><th>基数 Card.</th><th>类型 Type</th>"
            "<th>简述 Short</th><th>固定值 Fixed/pattern</th><th>绑定 Binding</th></tr>"
            + "".join(rows)
            + "</table>"
        )
        if invariants:
            out.append(
                "<h2>约束规则 Invariants</h2><table><tr><th>Key</th><th>Severity</th><th>说明 Human</th>"
                "<th>FHIRPath</th></tr>" + "".join(invariants) + "</table>"
            )
        return "".join(out)

    def code_system(self, res: dict[str, Any]) -> str:
        rows: list[str] = []

        def walk(concepts: list[dict[str, Any]], depth: int) -> None:
            for c in concepts:
                en = next(
                    (d.get("value") for d in c.get("designation", []) if d.get("language") == "en"),
                    "",
                )
                pad = "&nbsp;" * (4 * depth)
                rows.append(
                    f"<tr><td>{pad}<code>{_e(c.get('code'))}</code></td><td>{_e(c.get('display', ''))}</td>"
                    f"<td>{_e(en)}</td><td>{_e(c.get('definition', ''))}</td></tr>"
                )
                walk(c.get("concept", []), depth + 1)

        walk(res.get("concept", []), 0)
        return (
            f"<p>内容 Content: {_e(res.get('content'))} · {len(rows)} 个代码 codes</p>"
            "<table><tr><th>代码 Code</th><th>中文 Display</th><th>English</th><th>定义 Definition</th></tr>"
            + "".join(rows)
            + "</table>"
        )

    def value_set(self, res: dict[str, Any]) -> str:
        rows = []
        for kind in ("include", "exclude"):
            for inc in res.get("compose", {}).get(kind, []):
                codes = (
                    ", ".join(_e(c.get("code")) for c in inc.get("concept", [])) or "（全部 all）"
                )
                filters = "; ".join(
                    f"{_e(f.get('property'))} {_e(f.get('op'))} {_e(f.get('value'))}"
                    for f in inc.get("filter", [])
                )
                sets = ", ".join(self.link(v) for v in inc.get("valueSet", []))
                rows.append(
                    f"<tr><td>{kind}</td><td>{self.link(inc.get('system'))}{sets}</td><td>{codes}</td><td>{filters}</td></tr>"
                )
        return (
            "<h2>组成 Composition</h2><table><tr><th></th><th>系统 System</th><th>代码 Codes</th><th>过滤 Filter</th></tr>"
            + "".join(rows)
            + "</table>"
        )

    def operation_definition(self, res: dict[str, Any]) -> str:
        rows = "".join(
            f"<tr><td>{_e(p.get('name'))}</td><td>{_e(p.get('use'))}</td><td>{_e(p.get('min'))}..{_e(p.get('max'))}</td>"
            f"<td>{_e(p.get('type', ''))}</td><td>{_e(p.get('documentation', ''))}</td></tr>"
            for p in res.get("parameter", [])
        )
        where = ", ".join(_e(r) for r in res.get("resource", [])) or "system"
        return (
            f"<p><code>${_e(res.get('code'))}</code> · {where} · system={_e(res.get('system'))} "
            f"type={_e(res.get('type'))} instance={_e(res.get('instance'))}</p>"
            "<h2>参数 Parameters</h2><table><tr><th>名称 Name</th><th>Use</th><th>基数 Card.</th><th>类型 Type</th>"
            f"<th>说明 Documentation</th></tr>{rows}</table>"
        )

    def search_parameter(self, res: dict[str, Any]) -> str:
        return (
            f"<p><code>{_e(', '.join(res.get('base', [])))}?{_e(res.get('code'))}=</code> · {_e(res.get('type'))}</p>"
            f"<p>FHIRPath: <code>{_e(res.get('expression'))}</code></p>"
        )

    def plan_definition(self, res: dict[str, Any]) -> str:
        rows = []
        for action in res.get("action", []):
            definition = action.get("definitionCanonical")
            rows.append(
                f"<tr><td>{_e(action.get('prefix', ''))}</td><td>{_e(action.get('title', ''))}</td>"
                f"<td>{_e(action.get('description', ''))}</td><td>{_e(action.get('textEquivalent', ''))}</td>"
                f"<td>{self.link(definition) if definition else ''}</td></tr>"
            )
        return (
            "<h2>服务项目 Actions</h2><table><tr><th>#</th><th>项目 Item</th><th>服务内容 Content</th>"
            "<th>服务要求 Requirement</th><th>定义 Definition</th></tr>"
            + "".join(rows)
            + "</table>"
        )

    RENDERERS: dict[str, Callable[[SiteWriter, dict[str, Any]], str]] = {
        "StructureDefinition": structure_definition,
        "CodeSystem": code_system,
        "ValueSet": value_set,
        "OperationDefinition": operation_definition,
        "SearchParameter": search_parameter,
        "PlanDefinition": plan_definition,
    }
