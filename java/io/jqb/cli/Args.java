package io.jqb.cli;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Minimal {@code --key value} / {@code --flag} parsing for the CLI. */
final class Args {
    private final Map<String, String> values = new HashMap<>();
    private final List<String> positional = new ArrayList<>();

    Args(String[] args, Set<String> withValue, Set<String> flags) {
        this(args, withValue, flags, false);
    }

    /** With {@code positionals}, arguments not starting with "--" are collected ({@link #positional()}). */
    Args(String[] args, Set<String> withValue, Set<String> flags, boolean positionals) {
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (withValue.contains(a)) {
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(a + " needs a value");
                }
                values.put(a, args[++i]);
            } else if (flags.contains(a)) {
                values.put(a, "true");
            } else if (positionals && !a.startsWith("--")) {
                positional.add(a);
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

    /** @throws NumberFormatException (an IllegalArgumentException) naming the option if its value is no int */
    int getInt(String key, int def) {
        String v = values.get(key);
        if (v == null) {
            return def;
        }
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new NumberFormatException(key + " must be an integer, not '" + v + "'");
        }
    }

    boolean flag(String key) {
        return values.containsKey(key);
    }

    /** @return the arguments that are not options, in order */
    List<String> positional() {
        return positional;
    }
}
