"""Publishing the implementation guide: `jiayi ig build` writes the FHIR NPM package and a static HTML summary.

`package.py` collects every resource of `profiles/` and `terminology/` and writes the `.tgz`
(https://confluence.hl7.org/display/FHIR/NPM+Package+Specification); `html.py` renders the pages;
`cli.py` is the typer app the `jiayi` command mounts as `jiayi ig`.
"""
