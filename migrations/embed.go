// Package migrations embeds the goose SQL migrations so the binary migrates
// its own database.
package migrations

import "embed"

// FS holds every migration file, named NNNNN_subject.sql.
//
//go:embed *.sql
var FS embed.FS
