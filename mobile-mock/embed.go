// Package mobilemock embeds the residents' app stand-in: a phone-sized web
// app (plain HTML, CSS and ES modules, no build step) that the server serves
// at /app and that drives the resident journey through the public API only.
package mobilemock

import "embed"

// Assets are the app's files: index.html, its ES modules and style sheet at
// the top, and the vehicle model pictures under img/models/ (the image_url
// the API gives each model).
//
//go:embed index.html *.js style.css img/models/*.svg
var Assets embed.FS
