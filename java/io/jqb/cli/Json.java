package io.jqb.cli;

/** A minimal JSON writer for the CLI's machine-readable output (objects, arrays, strings, numbers, booleans). */
final class Json {
    private final StringBuilder out = new StringBuilder();
    /** Whether the next value in the current container needs a comma before it. */
    private boolean comma;

    Json beginObject() {
        value();
        out.append('{');
        comma = false;
        return this;
    }

    Json endObject() {
        out.append('}');
        comma = true;
        return this;
    }

    Json beginArray() {
        value();
        out.append('[');
        comma = false;
        return this;
    }

    Json endArray() {
        out.append(']');
        comma = true;
        return this;
    }

    /** A member name inside an object; the value follows. */
    Json name(String n) {
        if (comma) {
            out.append(',');
        }
        string(n);
        out.append(':');
        comma = false;
        return this;
    }

    Json value(String s) {
        value();
        if (s == null) {
            out.append("null");
        } else {
            string(s);
        }
        comma = true;
        return this;
    }

    Json value(long v) {
        value();
        out.append(v);
        comma = true;
        return this;
    }

    Json value(double v) {
        value();
        if (Double.isFinite(v)) {
            out.append(Math.round(v * 100) / 100.0);
        } else {
            out.append("null");
        }
        comma = true;
        return this;
    }

    Json value(boolean v) {
        value();
        out.append(v);
        comma = true;
        return this;
    }

    Json field(String n, String v) {
        return name(n).value(v);
    }

    Json field(String n, long v) {
        return name(n).value(v);
    }

    Json field(String n, double v) {
        return name(n).value(v);
    }

    Json field(String n, boolean v) {
        return name(n).value(v);
    }

    Json strings(String n, Iterable<String> vs) {
        name(n).beginArray();
        for (String v : vs) {
            value(v);
        }
        return endArray();
    }

    private void value() {
        if (comma) {
            out.append(',');
        }
    }

    private void string(String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"':
                    out.append("\\\"");
                    break;
                case '\\':
                    out.append("\\\\");
                    break;
                case '\n':
                    out.append("\\n");
                    break;
                case '\r':
                    out.append("\\r");
                    break;
                case '\t':
                    out.append("\\t");
                    break;
                default:
                    if (c < 0x20 || (c >= 0xd800 && c <= 0xdfff)) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
            }
        }
        out.append('"');
    }

    @Override
    public String toString() {
        return out.toString();
    }
}
