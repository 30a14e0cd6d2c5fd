package io.jqb.cli;

import java.util.Arrays;

/** {@code bin/jqb}: the command-line front end. */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) throws Exception {
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
                "      throughput only, the RTT fields are 0",
                "      --cold: also print 'cold connected_epoch_ns=.. first_epoch_ns=.. first_rtt_ns=.. total_ns=..'",
                "      (use with --warmup 0; see benchmarks/cold-start.sh)",
                "  bench-connect --service NAME [--count N] [--warmup N] [--max BYTES]",
                "      connect + handshake + disconnect; prints 'connect count=N p50_ns=.. p99_ns=..'"));
    }
}
