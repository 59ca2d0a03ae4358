package mgmt

import (
	"io"
	"net/http"
	"strings"
)

func (s *Server) getDefinitions(w http.ResponseWriter, r *http.Request, c *caller) error {
	vhost := pathValue(r, "vhost")
	if vhost != "" && s.cfg.Broker.Vhost(vhost) == nil {
		return errNotFound
	}
	defs, err := s.exportDefinitions(vhost)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("download") != "" {
		w.Header().Set("Content-Disposition", `attachment; filename="`+r.URL.Query().Get("download")+`"`)
	}
	writeJSON(w, http.StatusOK, defs)
	return nil
}

func (s *Server) postDefinitions(w http.ResponseWriter, r *http.Request, c *caller) error {
	vhost := pathValue(r, "vhost")
	if vhost != "" && s.cfg.Broker.Vhost(vhost) == nil {
		return errNotFound
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 256<<20))
	if err != nil {
		return badRequest("%v", err)
	}
	// The UI posts a form with a "file" field; tools post JSON.
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		return badRequest("multipart upload not supported; POST the JSON document")
	}
	if err := s.importDefinitions(vhost, body); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
