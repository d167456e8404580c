"""Security probes of the device under test: the TLS probe's judge (tls_baseline), the
exposed-services scan (services) and default credentials (credentials). The measurements run
in the C++ core (hilbench._core.probe_tls, scan_tcp_ports); judging is data-driven here."""
