package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"path"

	"github.com/gofiber/fiber/v2"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	mobilemock "github.com/hongqi-mobility/mobility/mobile-mock"
)

// appCSP lets the mobile mock run: its own modules, style sheet and images,
// and calls to this API; nothing from outside the service, no inline script.
const appCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// appFile is one embedded file of the mobile mock, ready to send.
type appFile struct {
	body        []byte
	contentType string
	etag        string
}

// appTypes are the content types of the files the mobile mock is made of;
// a file of another kind is never served.
var appTypes = map[string]string{
	".html": fiber.MIMETextHTMLCharsetUTF8,
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

// appFiles are the mobile mock's files by their path in the embedded tree,
// read once: the tree is part of the binary and never changes.
var appFiles = func() map[string]appFile {
	files := map[string]appFile{}
	err := fs.WalkDir(mobilemock.Assets, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := appTypes[path.Ext(p)]
		if !ok {
			return nil
		}
		body, err := fs.ReadFile(mobilemock.Assets, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		files[p] = appFile{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		panic("mobile-mock assets: " + err.Error()) // the embedded tree is fixed at build time
	}
	return files
}()

// appPage serves the mobile mock's page with its own Content-Security-Policy.
func (s *server) appPage(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentSecurityPolicy, appCSP)
	return sendAppFile(c, "index.html", "no-cache")
}

// appAsset serves a module or the style sheet of the mobile mock. They are
// not fingerprinted, so browsers revalidate them (cheaply, by ETag).
func (s *server) appAsset(c *fiber.Ctx) error {
	return sendAppFile(c, c.Params("asset"), "no-cache")
}

// appModelImage serves a vehicle model's picture, the image_url of the
// demo models.
func (s *server) appModelImage(c *fiber.Ctx) error {
	name := c.Params("image")
	if path.Ext(name) != ".svg" {
		return apperr.NotFound("image " + name)
	}
	return sendAppFile(c, "img/models/"+name, "public, max-age=86400")
}

func sendAppFile(c *fiber.Ctx, name, cacheControl string) error {
	// Only the embedded files are in the table, so no name reaches outside it.
	f, ok := appFiles[name]
	if !ok {
		return apperr.NotFound("file " + path.Base(name))
	}
	c.Set(fiber.HeaderCacheControl, cacheControl)
	c.Set(fiber.HeaderETag, f.etag)
	if c.Get(fiber.HeaderIfNoneMatch) == f.etag {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, f.contentType)
	return c.Send(f.body)
}
