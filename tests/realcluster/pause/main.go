// The real tier's pod sandbox image (registry.k8s.io/pause): PID 1 of every pod sandbox. It holds
// the pod's namespaces, reaps orphaned children and exits on SIGINT or SIGTERM, as the upstream
// pause program does; built here because no registry on the internet can be reached.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
