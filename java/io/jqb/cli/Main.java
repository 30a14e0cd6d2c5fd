package io.jqb.cli;

import java.util.Arrays;

/** {@code bin/jqb}: the command-line front end. */
public final class Main {
    /** Wall-clock time (ns since the epoch) at which {@link #main} was entered: {@code bench --cold} reports it. */
    static long mainEpochNs;

    private Main() {
    }

    public static void main(String[] args) throws Exception {
        mainEpochNs = BenchCommand.epochNanos();
        if (args.length == 0 || args[0].equals("-h") || args[0].equals("--help")) {
            usage();
            System.exit(args.length == 0 ? 2 : 0);
        }
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        int rc;
        switch (args[0]) {
            case "echo-server":
                rc = EchoServerCommand.run(rest);
                break;
            case "check":
                rc = CheckCommand.run(rest, System.out);
                break;
            case "bench":
                rc = BenchCommand.run(rest, System.out);
                break;
            case "bench-connect":
                rc = BenchCommand.runConnect(rest, System.out);
                break;
            case "stream-echo":
                rc = StreamEchoCommand.run(rest);
                break;
            case "stream-bench":
                rc = StreamBenchCommand.run(rest, System.out);
                break;
            case "libipc-echo-server":
                rc = LibipcEchoServerCommand.run(rest);
                break;
            case "libipc-bench":
                rc = LibipcBenchCommand.run(rest, System.out);
                break;
            case "notify-broker":
                rc = NotifyBrokerCommand.run(rest);
                break;
            case "notify-listen":
                rc = NotifyListenCommand.run(rest);
                break;
            case "notify":
                rc = NotifyCommand.run(rest);
                break;
            case "notify-observe":
                rc = NotifyObserveCommand.run(rest);
                break;
            case "ls":
                rc = LsCommand.run(rest, System.out);
                break;
            case "top":
                rc = TopCommand.run(rest, System.out);
                break;
            case "sweep":
                rc = SweepCommand.run(rest, System.out);
                break;
            default:
                System.err.println("jqb: unknown command '" + args[0] + "'");
                usage();
                rc = 2;
        }
        System.exit(rc);
    }

    static void usage() {
        System.err.println(String.join("\n",
                "usage: jqb <command> [options]",
                "  echo-server --service NAME [--transport shm|socket|native] [--max-msg-size BYTES] [--wait STRATEGY]",
                "      serve the echo contract; prints 'ready' when clients can connect; SIGTERM/SIGINT stops it",
                "  check --service NAME [--max BYTES]",
                "      run the echo-contract checks against a server; last line 'N passed, M failed'",
                "  bench --service NAME [--count N] [--size BYTES] [--warmup N] [--max BYTES] [--pipeline]",
                "        [--wait block|spin|phased:SPIN_US:YIELD_US]",
                "      blocking echo round trips; prints size, count, p50/p99/p999 RTT, msgs/s, MB/s",
                "      --pipeline [--window N]: requests without waiting for each response, at most N outstanding",
                "      (default: one fewer than the response ring holds, as qbn-client);",
                "      throughput only, the RTT fields are 0; warm-up: N round trips, then 3 passes of min(N, count)",
                "      pipelined requests (--warm-passes N, N >= 1: N passes; --warm-passes auto: until the JIT is",
                "      idle after one, none finished during it, none running or queued, 3 to 8 passes)",
                "      --cold: also print 'cold connected_epoch_ns=.. first_epoch_ns=.. first_rtt_ns=.. total_ns=..'",
                "      (use with --warmup 0; see benchmarks/cold-start.sh)",
                "  bench-connect --service NAME [--count N] [--warmup N] [--max BYTES]",
                "      connect + handshake + disconnect; prints 'connect count=N p50_ns=.. p99_ns=..'",
                "  sweep [--dry-run] [--root DIR]",
                "      remove every service's stale /dev/shm/qb-* directories (server and client gone, ours, only",
                "      libqb files); prints 'removed DIR: REASON' ('would remove' with --dry-run) per directory",
                "  stream-echo (--tcp [ADDR:]PORT | --tls [ADDR:]PORT --cert PEM --key PEM [--ca PEM] | --pipe PATH)",
                "        [--raw]",
                "      echo every framed message (prefix JQBS), or every byte with --raw; prints 'ready' when it",
                "      accepts; SIGTERM/SIGINT stops it (exit 0). --ca: require client certificates signed by it",
                "  stream-bench (--tcp HOST:PORT | --tls HOST:PORT [--ca PEM] | --pipe PATH) [--count N] [--size S]",
                "        [--warmup N]",
                "      framed echo round trips; prints the same line as bench",
                "  libipc-echo-server NAME [--server-close]",
                "      libipc echo server at $IPC_RUNDIR (or /run/ipc/) NAME-0-0; prints 'ready'; SIGTERM stops it",
                "  libipc-bench NAME [--count N] [--size S] [--warmup N]",
                "      libipc echo round trips, every byte checked; prints the same line as bench",
                "  notify-broker [--config FILE] [--wait STRATEGY]",
                "      the notification broker (one per host); prints 'ready'; SIGTERM stops it",
                "      --wait: block (default), spin, phased:<spin us>:<yield us> (as echo-server)",
                "  notify-listen --app APP [--priority P] [--to T] ID...",
                "      prints 'ready', then 'from=<app> to=<to> id=<id> params=<json>' per notification",
                "  notify --from APP --to APP|1|* [--flags N] ID ['{\"json\":1}']",
                "      sends one notification; exit 0 when OK, else prints the result (e.g. SERVER), exit 1",
                "  notify-observe",
                "      prints one line per delivered notification (to= empty when nobody received it)",
                "  (notify commands take --service NAME; default: $JQB_NOTIFY_SERVICE or jqb-notify)",
                "  ls [--json]",
                "      every libqb IPC service on this host: server, connections, ring sizes and fill (read-only)",
                "  top [--interval MS] [--once]",
                "      messages/s and bytes/s per connection and ring, busiest first; 'q' quits"));
    }
}
