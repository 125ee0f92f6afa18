"""HTML of the console page: the self-hosted bundle, or the CDN fallback."""

from __future__ import annotations

import html
import json
from typing import Any

from rujuk.console.assets import Bundle

# A browser-enforced guarantee that the self-hosted page talks only to its own
# origin. Monaco injects <style> elements at runtime, hence 'unsafe-inline'
# for styles only; scripts are never inline (the config is inert JSON).
SELF_HOSTED_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "worker-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'none'",
    ]
)


def config_json(config: dict[str, Any]) -> str:
    """JSON for a ``<script type="application/json">`` element.

    ``<``, ``>`` and ``&`` are escaped so no value can close the element.
    """
    text = json.dumps(config, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def self_hosted_page(bundle: Bundle, static_url: str, config: dict[str, Any]) -> str:
    """The page that loads the bundle built from the npm packages."""
    base = static_url.rstrip("/")
    script = html.escape(f"{base}/{bundle.script.name}?v={bundle.digest}")
    stylesheet = html.escape(f"{base}/{bundle.stylesheet.name}?v={bundle.digest}")
    return f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>rujuk · GraphiQL</title>
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="{stylesheet}" />
    <script type="application/json" id="rujuk-console-config">{config_json(config)}</script>
    <script type="module" src="{script}"></script>
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL…</div>
  </body>
</html>
"""


# The fallback when the bundle was not built (no node on the machine): the
# UMD builds strawberry also uses, pinned with subresource integrity.
_CDN_ASSETS = """\
    <script crossorigin src="https://unpkg.com/react@18.2.0/umd/react.production.min.js"
      integrity="sha384-tMH8h3BGESGckSAVGZ82T9n90ztNXxvdwvdM6UoR56cYcf+0iGXBliJ29D+wZ/x8"></script>
    <script crossorigin src="https://unpkg.com/react-dom@18.2.0/umd/react-dom.production.min.js"
      integrity="sha384-bm7MnzvK++ykSwVJ2tynSE5TRdN+xL418osEVF2DE/L/gfWHj91J2Sphe582B1Bh"></script>
    <link crossorigin rel="stylesheet" href="https://unpkg.com/graphiql@3.8.3/graphiql.min.css"
      integrity="sha384-Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM" />
    <link crossorigin rel="stylesheet"
      href="https://unpkg.com/@graphiql/plugin-explorer@1.0.2/dist/style.css"
      integrity="sha384-5DFJlDPW2tSATRbM8kzoP1j194jexLswuNmClWoRr2Q0x7R68JIQzPHZ02Faktwi" />
    <script crossorigin src="https://unpkg.com/graphiql@3.8.3/graphiql.min.js"
      integrity="sha384-HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie"></script>
    <script crossorigin src="https://unpkg.com/@graphiql/plugin-explorer@1.0.2/dist/index.umd.js"
      integrity="sha384-2oonKe47vfHIZnmB6ZZ10vl7T0Y+qrHQF2cmNTaFDuPshpKqpUMGMc9jgj9MLDZ9"></script>
"""

_CDN_BOOT = """\
    <script>
      (function () {
        var config = JSON.parse(document.getElementById("rujuk-console-config").textContent);
        var url = new URL(config.endpoint, window.location.href);
        var ws = new URL(url);
        ws.protocol = url.protocol === "https:" ? "wss:" : "ws:";
        var fetcher = GraphiQL.createFetcher({ url: url.href, subscriptionUrl: ws.href });
        var tabs = config.tabs.map(function (tab) {
          return { query: tab.query, variables: tab.variables, headers: config.headers };
        });
        var root = ReactDOM.createRoot(document.getElementById("graphiql"));
        root.render(
          React.createElement(GraphiQL, {
            fetcher: fetcher,
            defaultTabs: tabs,
            defaultHeaders: config.headers || undefined,
            defaultEditorToolsVisibility: true,
            shouldPersistHeaders: false,
            plugins: [GraphiQLPluginExplorer.explorerPlugin()],
          })
        );
      })();
    </script>
"""


def cdn_page(config: dict[str, Any]) -> str:
    """The fallback page that loads GraphiQL from a public CDN."""
    config_element = (
        f'<script type="application/json" id="rujuk-console-config">{config_json(config)}</script>'
    )
    return f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>rujuk · GraphiQL (CDN fallback)</title>
    <link rel="icon" href="data:," />
    <style>
      body {{ margin: 0; }}
      #graphiql {{ height: 100vh; }}
    </style>
{_CDN_ASSETS}    {config_element}
  </head>
  <body>
    <!-- The self-hosted console was not built (node/npm missing):
         run scripts/build-console to get it. -->
    <div id="graphiql">Loading GraphiQL from unpkg.com…</div>
{_CDN_BOOT}  </body>
</html>
"""
