package io.jqb.cli;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/** Minimal {@code --key value} / {@code --flag} parsing for the CLI. */
final class Args {
    private final Map<String, String> values = new HashMap<>();

    Args(String[] args, Set<String> withValue, Set<String> flags) {
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (withValue.contains(a)) {
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(a + " needs a value");
                }
                values.put(a, args[++i]);
            } else if (flags.contains(a)) {
                values.put(a, "true");
            } else {
                throw new IllegalArgumentException("unknown option " + a);
            }
        }
    }

    String get(String key, String def) {
        return values.getOrDefault(key, def);
    }

    String require(String key) {
        String v = values.get(key);
        if (v == null) {
            throw new IllegalArgumentException(key + " is required");
        }
        return v;
    }

    int getInt(String key, int def) {
        String v = values.get(key);
        return v == null ? def : Integer.parseInt(v);
    }

    boolean flag(String key) {
        return values.containsKey(key);
    }
}
