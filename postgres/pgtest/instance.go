package pgtest

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// EnvBin names the directory of the PostgreSQL server binaries (initdb,
// pg_ctl) for Start. Without it Start looks in /usr/lib/postgresql/*/bin
// (the newest version) and then on PATH.
const EnvBin = "USAGERING_POSTGRES_BIN"

// Instance is a throwaway PostgreSQL server: its own data directory in a
// temporary directory, its own port on 127.0.0.1, fsync off. Tests that
// stop, restart or break a server use one of these, never the shared one.
// Its methods are safe for concurrent use.
type Instance struct {
	bin      string
	dir      string // owned by the server's OS user; holds data/, the socket, the log
	port     int
	password string
	cred     *syscall.Credential // the OS user to run the server as, nil for ourselves

	mu      sync.Mutex
	running bool
}

// InstanceOption configures Start.
type InstanceOption func(*Instance)

// WithPassword makes the server require the password pw, checked with
// SCRAM-SHA-256, from user postgres on TCP connections. DSN includes it.
func WithPassword(pw string) InstanceOption {
	return func(i *Instance) { i.password = pw }
}

// Start creates and starts a throwaway server, and stops and deletes it
// when tb's test ends. Without the PostgreSQL binaries it skips tb (fails
// it under CI=true). Running as root, it runs the server as the OS user
// "postgres", since the server refuses to run as root.
func Start(tb testing.TB, opts ...InstanceOption) *Instance {
	tb.Helper()
	bin, err := findBin()
	if err != nil {
		missing(tb, err.Error())
	}
	i := &Instance{bin: bin}
	for _, o := range opts {
		o(i)
	}
	if err := i.create(); err != nil {
		if i.dir != "" {
			os.RemoveAll(i.dir)
		}
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(func() {
		i.mu.Lock()
		if i.running {
			_, _ = i.pgctl("stop", "-m", "immediate") // the directory goes next anyway
			i.running = false
		}
		i.mu.Unlock()
		os.RemoveAll(i.dir)
	})
	// A free port can be taken by someone else between finding and
	// binding it: try a few.
	for attempt := 0; ; attempt++ {
		if i.port, err = freePort(); err == nil {
			if err = i.Start(); err == nil {
				return i
			}
		}
		if attempt == 4 {
			tb.Fatalf("pgtest: starting a server: %v", err)
		}
	}
}

// create makes the directory and runs initdb.
func (i *Instance) create() error {
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return err
	}
	i.dir = dir
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("running as root, the server needs the OS user postgres: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		i.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return err
		}
	}
	args := []string{"-D", i.data(), "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync",
		"--auth-local=trust", "--auth-host=trust"}
	if i.password != "" {
		pwfile := filepath.Join(dir, "pwfile")
		if err := os.WriteFile(pwfile, []byte(i.password+"\n"), 0o600); err != nil {
			return err
		}
		if i.cred != nil {
			if err := os.Chown(pwfile, int(i.cred.Uid), int(i.cred.Gid)); err != nil {
				return err
			}
		}
		args = append(args[:len(args)-1], "--auth-host=scram-sha-256", "--pwfile="+pwfile)
	}
	if out, err := i.run("initdb", args...); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	conf := fmt.Sprintf("\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\n"+
		"fsync = off\nshared_buffers = 16MB\nmax_connections = 100\n", dir)
	f, err := os.OpenFile(filepath.Join(i.data(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(conf)
	return errors.Join(err, f.Close())
}

func (i *Instance) data() string { return filepath.Join(i.dir, "data") }

// Addr returns the server's "host:port".
func (i *Instance) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(i.port)) }

// DSN returns a URL for database postgres as user postgres, with the
// password if the server requires one.
func (i *Instance) DSN() string {
	u := url.URL{Scheme: "postgres", Host: i.Addr(), Path: "/postgres", RawQuery: "sslmode=disable"}
	if i.password != "" {
		u.User = url.UserPassword("postgres", i.password)
	} else {
		u.User = url.User("postgres")
	}
	return u.String()
}

// Start starts the server after Stop or Crash, on the same port, and waits
// until it accepts connections.
func (i *Instance) Start() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.running {
		return nil
	}
	out, err := i.run("pg_ctl", "start", "-D", i.data(), "-w", "-t", "60",
		"-l", filepath.Join(i.dir, "log"), "-o", "-p "+strconv.Itoa(i.port))
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(i.dir, "log"))
		return fmt.Errorf("pg_ctl start on port %d: %w\n%s\n%s", i.port, err, out, lastLines(string(log), 10))
	}
	i.running = true
	return nil
}

// Stop shuts the server down cleanly ("fast": open transactions roll
// back, connections are closed) and waits until it has.
func (i *Instance) Stop() error { return i.stop("fast") }

// Crash stops the server as a crash would ("immediate": no shutdown
// checkpoint; it recovers from its WAL at the next Start).
func (i *Instance) Crash() error { return i.stop("immediate") }

// Restart stops the server cleanly and starts it again.
func (i *Instance) Restart() error {
	if err := i.Stop(); err != nil {
		return err
	}
	return i.Start()
}

func (i *Instance) stop(mode string) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if !i.running {
		return nil
	}
	if out, err := i.pgctl("stop", "-m", mode); err != nil {
		return fmt.Errorf("pg_ctl stop -m %s: %w\n%s", mode, err, out)
	}
	i.running = false
	return nil
}

func (i *Instance) pgctl(args ...string) ([]byte, error) {
	return i.run("pg_ctl", append(args, "-D", i.data(), "-w", "-t", "60")...)
}

// run runs one of the server's binaries as the server's OS user.
func (i *Instance) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(i.bin, name), args...)
	cmd.Dir = i.dir
	cmd.Env = []string{"PATH=" + i.bin + ":/usr/bin:/bin", "LC_ALL=C", "HOME=" + i.dir}
	if i.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: i.cred}
	}
	return cmd.CombinedOutput()
}

// findBin returns the directory holding initdb and pg_ctl.
func findBin() (string, error) {
	if d := os.Getenv(EnvBin); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { // newest version first
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("no PostgreSQL server binaries (initdb, pg_ctl): set %s", EnvBin)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitFor is how long helpers wait for a server to answer.
const waitFor = 30 * time.Second
