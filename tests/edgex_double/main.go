// Command edgex-double is the edgex-smoke test double of six EdgeX 4.0 services.
//
// It is a test double, not EdgeX. The smoke harness uses it only in its own
// tests (tests/), where real EdgeX cannot be built, to run the smoke suites end
// to end in a real pod next to a real mosquitto broker and NGINX gateway. It
// implements just the REST calls and message-bus traffic those suites use, with
// the EdgeX 4.0 shapes, and answers /api/v3/version with a version that is not
// an EdgeX release.
//
// One binary serves every service, busybox-style: the service is the base name
// of os.Args[0] (core-data, core-metadata, core-command, device-virtual,
// device-rest or device-mqtt). The only flag is -cc <path>, the EdgeX common
// configuration file, from which all-services.MessageBus.Host and .Port give
// the MQTT broker.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"
)

// doubleVersion is what /api/v3/version answers: deliberately not an EdgeX release.
const doubleVersion = "0.0.0-edgex-smoke-double"

// serviceOrder lists the service names in the order they are reported.
var serviceOrder = []string{"core-data", "core-metadata", "core-command", "device-virtual", "device-rest", "device-mqtt"}

// ports are the EdgeX 4.0 default HTTP ports.
var ports = map[string]int{
	"core-data":      59880,
	"core-metadata":  59881,
	"core-command":   59882,
	"device-virtual": 59900,
	"device-rest":    59986,
	"device-mqtt":    59982,
}

// setups register each service's routes and message-bus traffic.
var setups = map[string]func(ctx context.Context, d *double){
	"core-data":      setupCoreData,
	"core-metadata":  setupCoreMetadata,
	"core-command":   setupCoreCommand,
	"device-virtual": setupDeviceVirtual,
	"device-rest":    setupDeviceRest,
	"device-mqtt":    setupDeviceMQTT,
}

// double is what a service's setup function works with.
type double struct {
	name   string
	broker string // MQTT broker URL, tcp://host:port
	mux    *http.ServeMux
	bus    *bus // nil unless the service uses the message bus
}

// commonConfig is the part of the EdgeX common configuration the double reads.
type commonConfig struct {
	AllServices struct {
		MessageBus struct {
			Host string `yaml:"Host"`
			Port int    `yaml:"Port"`
		} `yaml:"MessageBus"`
	} `yaml:"all-services"`
}

func main() {
	name := filepath.Base(os.Args[0])
	setup, ok := setups[name]
	if !ok {
		fail(fmt.Sprintf("unknown service name %q (from argv[0]); valid names: %s", name, strings.Join(serviceOrder, ", ")))
	}
	configPath, err := parseArgs(os.Args[1:])
	if err != nil {
		fail(fmt.Sprintf("%s: %v; usage: %s -cc <common-configuration.yaml>", name, err, name))
	}
	broker, err := readBroker(configPath)
	if err != nil {
		fail(fmt.Sprintf("%s: %v", name, err))
	}

	log.SetOutput(os.Stdout)
	log.SetFlags(log.LstdFlags | log.Lmicroseconds | log.Lmsgprefix)
	log.SetPrefix(name + ": ")
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[name]))
	log.Printf("edgex-smoke test double, not EdgeX (version %s); http %s, message bus %s", doubleVersion, addr, broker)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	d := &double{name: name, broker: broker, mux: http.NewServeMux()}
	registerCommon(d)
	setup(ctx, d)

	listener, err := net.Listen("tcp", addr)
	if err != nil {
		log.Printf("cannot listen on %s: %v", addr, err)
		os.Exit(1)
	}
	server := &http.Server{Handler: logRequests(d.mux), ReadHeaderTimeout: 5 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- server.Serve(listener) }()
	log.Printf("listening on %s", addr)

	select {
	case <-ctx.Done():
		log.Printf("signal received, shutting down")
	case err := <-serveErr:
		log.Printf("http server stopped: %v", err)
		os.Exit(1)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := server.Shutdown(shutdownCtx); err != nil {
		_ = server.Close()
	}
	if d.bus != nil {
		d.bus.close()
	}
	log.Printf("stopped")
}

// parseArgs accepts exactly -cc <path> or -cc=<path> and returns the path.
func parseArgs(args []string) (string, error) {
	flags := flag.NewFlagSet("edgex-double", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	configPath := flags.String("cc", "", "path of the EdgeX common configuration YAML")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", errors.New("help requested")
		}
		return "", err
	}
	if flags.NArg() > 0 {
		return "", fmt.Errorf("unexpected argument %q", flags.Arg(0))
	}
	if *configPath == "" {
		return "", errors.New("missing -cc <path>")
	}
	return *configPath, nil
}

// readBroker reads all-services.MessageBus.Host and .Port from the common configuration.
func readBroker(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cannot read common configuration: %v", err)
	}
	var config commonConfig
	if err := yaml.Unmarshal(data, &config); err != nil {
		return "", fmt.Errorf("common configuration %s is not valid YAML: %v", path, err)
	}
	bus := config.AllServices.MessageBus
	if bus.Host == "" || bus.Port <= 0 {
		return "", fmt.Errorf("common configuration %s has no all-services.MessageBus.Host and .Port", path)
	}
	return "tcp://" + net.JoinHostPort(bus.Host, strconv.Itoa(bus.Port)), nil
}

// fail prints one line to stderr and exits with status 2 (a usage or configuration error).
func fail(message string) {
	fmt.Fprintln(os.Stderr, "edgex-double: "+message)
	os.Exit(2)
}
