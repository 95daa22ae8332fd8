package runtimecli

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/runtime"
)

func execCmd(g *globals) *cobra.Command {
	var (
		consoleSocket, cwd, user, processFile, pidFile string
		env, caps, addGids                             []string
		tty, detach, noNewPrivs                        bool
		preserveFDs                                    int
	)
	cmd := &cobra.Command{
		Use:   "exec [flags] <container-id> [command [args...]]",
		Short: "Run a process in a running container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			rt := g.runtime()
			var p *specs.Process
			if processFile != "" {
				b, err := os.ReadFile(processFile)
				if err != nil {
					return fmt.Errorf("--process: %w", err)
				}
				p = &specs.Process{}
				if err := json.Unmarshal(b, p); err != nil {
					return fmt.Errorf("--process %s: malformed JSON: %w", processFile, err)
				}
			} else {
				if len(args) < 2 {
					return fmt.Errorf("exec: give a command to run or --process FILE")
				}
				spec, err := rt.Config(id)
				if err != nil {
					return err
				}
				p = &specs.Process{}
				if spec.Process != nil {
					*p = *spec.Process
				}
				p.Args = args[1:]
				p.Terminal = tty
				p.ConsoleSize = nil
				if cmd.Flags().Changed("cwd") || p.Cwd == "" {
					p.Cwd = cwd
				}
				p.Env = append(append([]string(nil), p.Env...), env...)
				if user != "" {
					// As runc: the UID, and the GID when given; the rest of
					// process.user (groups, umask) stays.
					u, err := parseUser(user)
					if err != nil {
						return err
					}
					p.User.UID = u.UID
					if strings.Contains(user, ":") {
						p.User.GID = u.GID
					}
				}
				for _, s := range addGids {
					gid, err := strconv.ParseUint(s, 10, 32)
					if err != nil {
						return fmt.Errorf("--additional-gids %q: not a number", s)
					}
					p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(gid))
				}
				if noNewPrivs {
					p.NoNewPrivileges = true
				}
				if len(caps) > 0 {
					c := specs.LinuxCapabilities{}
					if p.Capabilities != nil {
						c = *p.Capabilities
					}
					for _, name := range caps {
						c.Bounding = append(c.Bounding, name)
						c.Effective = append(c.Effective, name)
						c.Permitted = append(c.Permitted, name)
						c.Inheritable = append(c.Inheritable, name)
					}
					p.Capabilities = &c
				}
			}
			o := runtime.ExecOpts{Process: p, ConsoleSocket: consoleSocket, PidFile: pidFile, PreserveFDs: preserveFDs}
			var proxy *ttyProxy
			if p.Terminal && consoleSocket == "" {
				if detach {
					return fmt.Errorf("exec --tty --detach needs --console-socket")
				}
				var err error
				if proxy, err = newTTYProxy(); err != nil {
					return err
				}
				defer proxy.close()
				o.ConsoleSocket = proxy.socketPath
			}
			proc, err := rt.Exec(id, o)
			if err != nil {
				return err
			}
			if detach {
				return nil
			}
			if proxy != nil {
				if err := proxy.attach(); err != nil {
					return err
				}
			}
			sigs := catchSignals()
			sigs.forward(proc, proxy)
			code, err := proc.Wait()
			sigs.stop()
			if proxy != nil {
				proxy.drain()
			}
			if err != nil {
				return err
			}
			if code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.StringVar(&consoleSocket, "console-socket", "", "unix socket that receives the pty master")
	f.StringVar(&cwd, "cwd", "/", "working directory in the container")
	f.StringArrayVarP(&env, "env", "e", nil, "set an environment variable (KEY=VALUE)")
	f.BoolVarP(&tty, "tty", "t", false, "allocate a pseudo-terminal")
	f.StringVarP(&user, "user", "u", "", "UID[:GID] to run as")
	f.StringArrayVarP(&addGids, "additional-gids", "g", nil, "additional group ids")
	f.StringVarP(&processFile, "process", "p", "", "path to a process.json (runtime-spec Process) to run")
	f.BoolVarP(&detach, "detach", "d", false, "do not wait for the process")
	f.StringVar(&pidFile, "pid-file", "", "write the process's PID to this file")
	f.StringArrayVarP(&caps, "cap", "c", nil, "add a capability (CAP_...)")
	f.BoolVar(&noNewPrivs, "no-new-privs", false, "set no_new_privileges")
	f.IntVar(&preserveFDs, "preserve-fds", 0, "pass this many extra fds (from 3) to the process")
	return cmd
}

func parseUser(s string) (specs.User, error) {
	uidS, gidS, hasGid := strings.Cut(s, ":")
	uid, err := strconv.ParseUint(uidS, 10, 32)
	if err != nil {
		return specs.User{}, fmt.Errorf("--user %q: UID must be a number", s)
	}
	u := specs.User{UID: uint32(uid)}
	if hasGid {
		gid, err := strconv.ParseUint(gidS, 10, 32)
		if err != nil {
			return specs.User{}, fmt.Errorf("--user %q: GID must be a number", s)
		}
		u.GID = uint32(gid)
	}
	return u, nil
}
