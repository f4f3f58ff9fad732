package main

import (
	"context"
	"log"
	"net/http"
	"slices"
	"sort"
	"sync"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

type countResponse struct {
	APIVersion string `json:"apiVersion"`
	StatusCode int    `json:"statusCode"`
	Count      int    `json:"count"`
}

type eventsResponse struct {
	APIVersion string  `json:"apiVersion"`
	StatusCode int     `json:"statusCode"`
	TotalCount int     `json:"totalCount"`
	Events     []Event `json:"events"` // null when empty, as real EdgeX's nil slice
}

// eventStore holds every event seen on the bus, newest (largest origin) first,
// as real core-data returns them. Messages are handled concurrently, so an
// event is inserted at its place rather than at the front.
type eventStore struct {
	mu     sync.Mutex
	events []Event
}

func (s *eventStore) add(event Event) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := sort.Search(len(s.events), func(i int) bool { return s.events[i].Origin <= event.Origin })
	s.events = slices.Insert(s.events, at, event)
	return len(s.events)
}

// matching returns the events of device, newest first; every event if device is "".
func (s *eventStore) matching(device string) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []Event
	for _, e := range s.events {
		if device == "" || e.DeviceName == device {
			found = append(found, e)
		}
	}
	return found
}

// setupCoreData stores the events published under edgex/events/ and serves them.
func setupCoreData(_ context.Context, d *double) {
	store := &eventStore{}
	d.connectBus(map[string]mqtt.MessageHandler{
		"edgex/events/#": func(_ mqtt.Client, message mqtt.Message) {
			event, err := decodeEventEnvelope(message.Payload())
			if err != nil {
				log.Printf("dropped message on %s: %v", message.Topic(), err)
				return
			}
			total := store.add(event)
			log.Printf("stored event %s/%s from %s (%d events)", event.DeviceName, event.SourceName, message.Topic(), total)
		},
	})

	d.mux.HandleFunc("GET /api/v3/event/count", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, countResponse{apiVersion, http.StatusOK, len(store.matching(""))})
	})
	d.mux.HandleFunc("GET /api/v3/event/count/device/name/{device}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, countResponse{apiVersion, http.StatusOK, len(store.matching(r.PathValue("device")))})
	})
	d.mux.HandleFunc("GET /api/v3/event/device/name/{device}", func(w http.ResponseWriter, r *http.Request) {
		offset, limit, err := pageParams(r)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		events := store.matching(r.PathValue("device"))
		writeJSON(w, http.StatusOK, eventsResponse{apiVersion, http.StatusOK, len(events), page(events, offset, limit)})
	})
}
