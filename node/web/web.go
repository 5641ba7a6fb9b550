// Package web serves the browser conference client: the join form, the room page and its assets.
package web

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var static embed.FS

// pageHeaders keep the page from being framed or sniffed; connect-src stays
// open to http(s) because the test hook POSTs reports to another origin.
var pageHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'self'; connect-src 'self' ws: wss: http: https:; " +
		"img-src 'self' data:; media-src 'self' blob: mediastream:; frame-ancestors 'none'",
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "no-referrer",
	"Cache-Control":          "no-cache",
}

// Handler serves the client: "/" shows the join form, "/r/{room}" the room page
// (which joins directly when the URL carries ?name=), "/assets/" the static files.
// The node mounts it at "/" and serves signaling at "/ws" on the same origin.
func Handler() http.Handler {
	assets, err := fs.Sub(static, "static")
	if err != nil {
		// The embedded tree is fixed at build time; a missing directory is a build defect.
		panic("web: embedded static directory missing: " + err.Error())
	}
	page, err := fs.ReadFile(assets, "index.html")
	if err != nil {
		panic("web: embedded index.html missing: " + err.Error())
	}
	files := http.FileServerFS(assets)

	mux := http.NewServeMux()
	servePage := func(w http.ResponseWriter, r *http.Request) {
		if room := r.PathValue("room"); room != "" && !validRoom(room) {
			http.Error(w, "room names are 1 to 64 letters, digits, '-', '_' or '.'", http.StatusBadRequest)
			return
		}
		for k, v := range pageHeaders {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	}
	mux.HandleFunc("GET /{$}", servePage)
	mux.HandleFunc("GET /r/{room}", servePage)
	mux.HandleFunc("GET /assets/{file}", func(w http.ResponseWriter, r *http.Request) {
		// Only flat files: no directory listings and no index.html under /assets/.
		name := r.PathValue("file")
		if name == "" || name == "index.html" || strings.HasPrefix(name, ".") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-cache")
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + name
		files.ServeHTTP(w, r2)
	})
	return mux
}

// validRoom mirrors the room rule of the signaling protocol so a bad deep
// link fails at once instead of after the WebSocket join.
func validRoom(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
		default:
			return false
		}
	}
	return true
}
