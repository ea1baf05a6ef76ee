// Package openapi embeds the API description and the page that renders it,
// so the binary serves its own documentation with no network.
package openapi

import _ "embed"

// Spec is openapi.yaml, the contract of every route.
//
//go:embed openapi.yaml
var Spec []byte

// DocsPage is the HTML page served at /docs.
//
//go:embed docs/index.html
var DocsPage []byte

// RedocJS is the vendored Redoc bundle the docs page loads.
//
//go:embed docs/redoc.standalone.js
var RedocJS []byte
