package cli

import (
	"strings"
	"testing"
)

// TestConformanceRun checks the request sequence of run, start, attach,
// exec and the other verbs, their output (through the demultiplexer) and
// exit statuses against docker's.
func TestConformanceRun(t *testing.T) {
	haveDocker(t)
	out := func(f *fakeDaemon) {
		f.frames = []frame{{1, "hello\n"}, {2, "oops\n"}, {1, "world\n"}}
		f.waitCode = 3
	}
	psList := `[{"Id":"` + fakeID + `","Names":["/web","/other/link"],"Image":"busybox","ImageID":"sha256:abc","Command":"sh -c 'while true; do sleep 1; done'","Created":1000000000,"Ports":[{"PrivatePort":80,"Type":"tcp"},{"PrivatePort":81,"Type":"tcp"},{"IP":"0.0.0.0","PrivatePort":443,"PublicPort":8443,"Type":"tcp"},{"IP":"::","PrivatePort":443,"PublicPort":8443,"Type":"tcp"},{"IP":"0.0.0.0","PrivatePort":53,"PublicPort":53,"Type":"udp"}],"Labels":{"a":"b"},"State":"running","Status":"Up 3 seconds (healthy)","SizeRw":1234,"SizeRootFs":4500000},` +
		`{"Id":"fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210","Names":["/x"],"Image":"sha256:abcdef0123456789abcdef0123456789","ImageID":"sha256:abcdef0123456789abcdef0123456789","Command":"true","Created":1000000000,"Ports":[],"Labels":{},"State":"exited","Status":"Exited (3) 2 seconds ago"}]`
	ps := func(f *fakeDaemon) { f.responses = map[string]string{"GET /containers/json": "200 " + psList} }
	top := func(f *fakeDaemon) {
		f.responses = map[string]string{"GET /containers/c1/top": `200 {"Titles":["UID","PID","CMD"],"Processes":[["root","1234","sleep 100"],["root","1300","sh"]]}`}
	}
	port := func(f *fakeDaemon) {
		f.inspect = `{"Id":"` + fakeID + `","State":{"Running":true},"Config":{},"HostConfig":{},"NetworkSettings":{"Ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"},{"HostIp":"::","HostPort":"8080"}],"53/udp":[{"HostIp":"127.0.0.1","HostPort":"5353"}],"81/tcp":null}}}`
	}
	commit := func(f *fakeDaemon) { f.responses = map[string]string{"POST /commit": `201 {"Id":"sha256:feedbeef"}`} }
	prune := func(f *fakeDaemon) {
		f.responses = map[string]string{"POST /containers/prune": `200 {"ContainersDeleted":["aaa","bbb"],"SpaceReclaimed":12345}`}
	}
	events := func(f *fakeDaemon) {
		f.responses = map[string]string{"GET /events": `200 {"Type":"container","Action":"start","Actor":{"ID":"` + fakeID + `","Attributes":{"name":"web","image":"busybox"}},"scope":"local","time":1700000001,"timeNano":1700000001123456789}
{"Type":"network","Action":"connect","Actor":{"ID":"n1","Attributes":{"container":"abc"}},"time":1700000002,"timeNano":1700000002000000000}`}
	}
	stats := func(f *fakeDaemon) {
		f.responses = map[string]string{"GET /containers/c1/stats": `200 {"name":"/web","id":"` + fakeID + `","pids_stats":{"current":7},"networks":{"eth0":{"rx_bytes":1500,"tx_bytes":2600000},"eth1":{"rx_bytes":500,"tx_bytes":0}},"blkio_stats":{"io_service_bytes_recursive":[{"major":8,"minor":0,"op":"read","value":4096000},{"major":8,"minor":0,"op":"write","value":1024}]},"cpu_stats":{"cpu_usage":{"total_usage":400000000},"system_cpu_usage":20000000000,"online_cpus":4},"precpu_stats":{"cpu_usage":{"total_usage":100000000},"system_cpu_usage":10000000000,"online_cpus":4},"memory_stats":{"usage":52428800,"limit":2147483648,"stats":{"inactive_file":10485760}}}`}
	}
	statsV1 := func(f *fakeDaemon) {
		f.responses = map[string]string{"GET /containers/c1/stats": `200 {"name":"/web","id":"` + fakeID + `","pids_stats":{"current":1},"cpu_stats":{"cpu_usage":{"total_usage":300,"percpu_usage":[100,200]},"system_cpu_usage":2000},"precpu_stats":{"cpu_usage":{"total_usage":100},"system_cpu_usage":1000},"memory_stats":{"usage":10000000,"limit":20000000,"stats":{"total_inactive_file":1000000,"inactive_file":5}}}`}
	}
	update := func(f *fakeDaemon) {
		f.responses = map[string]string{"POST /containers/c1/update": `200 {"Warnings":["careful"]}`, "POST /containers/c2/update": `200 {"Warnings":[]}`}
	}
	cases := []cliCase{
		{args: []string{"run", "busybox", "echo", "hi"}, setup: out},
		{args: []string{"run", "--rm", "busybox"}, setup: out},
		{args: []string{"run", "-d", "busybox"}, setup: out},
		{args: []string{"run", "-d", "--rm", "--name", "x", "busybox"}, setup: out},
		// (docker 28.2 crashes on "run -a stdout": a nil stderr in its stdcopy.)
		{args: []string{"run", "-i", "busybox", "cat"}, stdin: "typed input\n", setup: func(f *fakeDaemon) { out(f); f.echoStdin = true }},
		{args: []string{"run", "--detach-keys", "ctrl-a,x", "busybox"}, setup: out},
		{args: []string{"run", "--sig-proxy=false", "busybox"}, setup: out},
		{args: []string{"run", "-t", "busybox"}, setup: func(f *fakeDaemon) { out(f); f.tty = true }},
		{args: []string{"run", "busybox", "nope"}, setup: func(f *fakeDaemon) {
			f.startErr = `failed to create task: exec: "nope": executable file not found in $PATH`
		}},
		{args: []string{"run", "busybox", "/etc"}, setup: func(f *fakeDaemon) { f.startErr = "exec /etc: permission denied" }},
		{args: []string{"run", "busybox"}, setup: func(f *fakeDaemon) { f.startErr = "cgroup trouble" }},
		{args: []string{"run", "--rm", "busybox", "nope"}, setup: func(f *fakeDaemon) { f.startErr = "no such file or directory" }},
		{args: []string{"run", "--pull", "never", "nosuch"}, setup: func(f *fakeDaemon) {
			f.createStatus, f.createMsg = 404, "No such image: nosuch:latest"
		}},
		{args: []string{"run", "nosuch"}, setup: func(f *fakeDaemon) {
			f.createStatus, f.createMsg = 404, "No such image: nosuch:latest"
			f.responses = map[string]string{"POST /images/create": `501 {"message":"berth cannot pull images yet"}`}
		}},
		{args: []string{"create", "--name", "c1", "busybox"}},
		{args: []string{"create", "nosuch"}, setup: func(f *fakeDaemon) {
			f.createStatus, f.createMsg = 404, "No such image: nosuch:latest"
			f.responses = map[string]string{"POST /images/create": `501 {"message":"berth cannot pull images yet"}`}
		}},
		{args: []string{"create", "busybox"}, setup: func(f *fakeDaemon) {
			f.responses = map[string]string{"POST /containers/create": `201 {"Id":"` + fakeID + `","Warnings":["one","two"]}`}
		}},
		{args: []string{"start", "a", "b"}},
		{args: []string{"start", "a", "b"}, setup: func(f *fakeDaemon) { f.startErr = "boom" }},
		{args: []string{"start", "-a", "c1"}, setup: out},
		{args: []string{"start", "-ai", "c1"}, stdin: "in\n", setup: func(f *fakeDaemon) { out(f); f.echoStdin = true }},
		{args: []string{"attach", "c1"}, setup: out},
		{args: []string{"attach", "--no-stdin", "c1"}, setup: out},
		{args: []string{"attach", "c1"}, setup: func(f *fakeDaemon) {
			f.inspect = `{"Id":"` + fakeID + `","State":{"Running":false},"Config":{},"HostConfig":{}}`
		}},
		{args: []string{"exec", "c1", "ls", "-l"}, setup: func(f *fakeDaemon) { out(f); f.execExit = 4 }},
		{args: []string{"exec", "-i", "-e", "A=1", "-w", "/tmp", "-u", "root", "--privileged", "c1", "cat"}, stdin: "x\n", setup: func(f *fakeDaemon) { out(f); f.echoStdin = true }},
		{args: []string{"exec", "-d", "c1", "sleep", "1"}},
		{args: []string{"exec", "--detach-keys", "ctrl-x", "c1", "true"}},
		{args: []string{"stop", "a", "b"}, unordered: true},
		{args: []string{"stop", "-t", "3", "-s", "SIGUSR1", "a"}},
		{args: []string{"stop", "--timeout", "0", "a"}},
		{args: []string{"restart", "-t", "1", "a"}},
		{args: []string{"kill", "a"}},
		{args: []string{"kill", "-s", "HUP", "a", "b"}, unordered: true},
		{args: []string{"kill", "a"}, setup: func(f *fakeDaemon) {
			f.responses = map[string]string{"POST /containers/a/kill": `404 {"message":"No such container: a"}`}
		}},
		{args: []string{"pause", "a"}},
		{args: []string{"unpause", "a"}},
		{args: []string{"rm", "a"}},
		{args: []string{"rm", "-f", "-v", "a", "b"}, unordered: true},
		{args: []string{"rm", "-f", "gone"}, setup: func(f *fakeDaemon) {
			f.responses = map[string]string{"DELETE /containers/gone": `404 {"message":"No such container: gone"}`}
		}},
		{args: []string{"rm", "gone"}, setup: func(f *fakeDaemon) {
			f.responses = map[string]string{"DELETE /containers/gone": `404 {"message":"No such container: gone"}`}
		}},
		{args: []string{"rename", "a", "b"}},
		{args: []string{"wait", "a"}, setup: out},
		{args: []string{"logs", "c1"}, setup: out},
		{args: []string{"logs", "-f", "-t", "--details", "--tail", "5", "--since", "2024-01-02T03:04:05Z", "--until", "1700000000", "c1"}, setup: out},
		{args: []string{"logs", "-n", "2", "--since", "2024-01-02", "c1"}, setup: out},
		{args: []string{"logs", "c1"}, setup: func(f *fakeDaemon) { out(f); f.tty = true }},
		{args: []string{"container", "inspect", "c1"}},
		{args: []string{"container", "inspect", "-s", "-f", "{{.Id}} {{.State.Running}} {{json .Config}}", "c1"}},
		{args: []string{"inspect", "c1"}},
		{args: []string{"inspect", "--type", "container", "c1"}},
		{args: []string{"inspect", "img"}, setup: func(f *fakeDaemon) {
			f.responses = map[string]string{"GET /containers/img/json": `404 {"message":"No such container: img"}`,
				"GET /images/img/json": `200 {"Id":"sha256:abc","RepoTags":["img:latest"],"Size":12}`}
		}},
		{args: []string{"inspect", "nothing"}, setup: func(f *fakeDaemon) { f.notFound = true }},
		{args: []string{"inspect", "--type", "image", "nothing"}, setup: func(f *fakeDaemon) { f.notFound = true }},
		{args: []string{"container", "inspect", "nothing"}, setup: func(f *fakeDaemon) {
			f.responses = map[string]string{"GET /containers/nothing/json": `404 {"message":"No such container: nothing"}`}
		}},
		{args: []string{"ps"}, setup: ps},
		{args: []string{"ps", "-a", "--no-trunc"}, setup: ps},
		{args: []string{"ps", "-q"}, setup: ps},
		{args: []string{"ps", "-aq", "-n", "3"}, setup: ps},
		{args: []string{"ps", "-l", "-s"}, setup: ps},
		{args: []string{"ps", "--filter", "status=exited", "--filter", "label=a=b"}, setup: ps},
		{args: []string{"ps", "--format", "{{.Names}} {{.Status}} {{.Label \"a\"}}"}, setup: ps},
		{args: []string{"ps", "--format", "table {{.ID}}\t{{.Size}}"}, setup: ps},
		{args: []string{"container", "ls", "--format", "{{.Ports}}|{{.State}}|{{.Labels}}"}, setup: ps},
		{args: []string{"top", "c1"}, setup: top},
		{args: []string{"top", "c1", "-eo", "pid,comm"}, setup: top},
		{args: []string{"port", "c1"}, setup: port},
		{args: []string{"port", "c1", "80"}, setup: port},
		{args: []string{"port", "c1", "53/udp"}, setup: port},
		{args: []string{"port", "c1", "81"}, setup: port},
		{args: []string{"update", "--cpus", "2", "-m", "1g", "--memory-swap", "-1", "--pids-limit", "50", "--restart", "on-failure:2", "c1", "c2"}, unordered: true, setup: update},
		{args: []string{"update", "--cpu-shares", "100", "--cpuset-cpus", "1", "--blkio-weight", "20", "c1"}, setup: update},
		{args: []string{"update", "c1"}},
		{args: []string{"commit", "c1"}, setup: commit},
		{args: []string{"commit", "-a", "me", "-m", "msg", "-c", "ENV A=1", "-c", "CMD [\"sh\"]", "--pause=false", "c1", "repo/img:v1"}, setup: commit},
		{args: []string{"export", "-o", "out.tar", "c1"}, noOutput: true},
		{args: []string{"container", "prune", "-f"}, setup: prune},
		{args: []string{"container", "prune", "-f", "--filter", "until=24h"}, setup: prune},
		{args: []string{"container", "prune"}, stdin: "n\n", setup: prune},
		{args: []string{"events", "--since", "1700000000", "--until", "1700000100", "--filter", "type=container"}, setup: events},
		{args: []string{"events", "--since", "1700000000", "--until", "1700000100", "--format", "{{.Action}} {{.Actor.ID}}"}, setup: events},
		{args: []string{"stats", "--no-stream", "c1"}, setup: stats},
		{args: []string{"stats", "--no-stream", "--no-trunc", "--format", "{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.MemPerc}} {{.NetIO}} {{.BlockIO}} {{.PIDs}}", "c1"}, setup: stats},
		{args: []string{"stats", "--no-stream", "c1"}, setup: statsV1},
	}
	for _, c := range cases {
		name := strings.Join(c.args, " ")
		t.Run(name, func(t *testing.T) { compare(t, c) })
	}
}
