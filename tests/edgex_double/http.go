package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"strconv"
	"time"
)

const apiVersion = "v3"

type pingResponse struct {
	APIVersion  string `json:"apiVersion"`
	Timestamp   string `json:"timestamp"`
	ServiceName string `json:"serviceName"`
}

type versionResponse struct {
	APIVersion  string `json:"apiVersion"`
	Version     string `json:"version"`
	ServiceName string `json:"serviceName"`
}

// baseResponse is EdgeX's BaseResponse: a success without data, or an error with a message.
type baseResponse struct {
	APIVersion string `json:"apiVersion"`
	Message    string `json:"message,omitempty"`
	StatusCode int    `json:"statusCode"`
}

// registerCommon adds the routes every EdgeX service has, and the EdgeX 404 for anything else.
func registerCommon(d *double) {
	d.mux.HandleFunc("GET /api/v3/ping", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, pingResponse{apiVersion, time.Now().Format(time.UnixDate), d.name})
	})
	d.mux.HandleFunc("GET /api/v3/version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, versionResponse{apiVersion, doubleVersion, d.name})
	})
	d.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("%s %s is not served by the %s test double", r.Method, r.URL.Path, d.name))
	})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	data, err := json.Marshal(body)
	if err != nil {
		log.Printf("cannot encode response: %v", err)
		status, data = http.StatusInternalServerError, []byte(`{"apiVersion":"v3","message":"cannot encode response","statusCode":500}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, baseResponse{APIVersion: apiVersion, Message: message, StatusCode: status})
}

// pageParams reads EdgeX's ?offset=&limit= (limit -1 means all).
func pageParams(r *http.Request) (offset, limit int, err error) {
	offset, limit = 0, 20
	if text := r.URL.Query().Get("offset"); text != "" {
		if offset, err = strconv.Atoi(text); err != nil || offset < 0 {
			return 0, 0, fmt.Errorf("offset %q is not a non-negative integer", text)
		}
	}
	if text := r.URL.Query().Get("limit"); text != "" {
		if limit, err = strconv.Atoi(text); err != nil || limit < -1 {
			return 0, 0, fmt.Errorf("limit %q is not an integer >= -1", text)
		}
	}
	return offset, limit, nil
}

// page returns items[offset:offset+limit], limit -1 meaning to the end.
func page[T any](items []T, offset, limit int) []T {
	if offset >= len(items) {
		return nil
	}
	items = items[offset:]
	if limit >= 0 && limit < len(items) {
		items = items[:limit]
	}
	return items
}

// statusRecorder remembers the status code a handler wrote, for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(status int) {
	s.status = status
	s.ResponseWriter.WriteHeader(status)
}

// logRequests logs every request except successful GETs, which the suites poll often.
func logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		recorder := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(recorder, r)
		if r.Method != http.MethodGet || recorder.status != http.StatusOK {
			log.Printf("%s %s -> %d", r.Method, r.URL.RequestURI(), recorder.status)
		}
	})
}
