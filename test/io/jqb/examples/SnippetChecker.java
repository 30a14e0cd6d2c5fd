package io.jqb.examples;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Checks that documentation snippets are verbatim copies of regions of compiled, tested examples.
 *
 * <p>Convention: a marker line {@code <!-- example: PATH#region -->} immediately precedes the snippet; PATH is
 * relative to the repository root; the snippet's lines equal the lines between {@code // [region]} and
 * {@code // [/region]} in PATH with the region's common leading indentation removed.</p>
 * <ul>
 * <li>Markdown: the snippet is a {@code ```java} fenced block; every such block needs a marker.</li>
 * <li>Javadoc: the snippet is a {@code <pre>{@code ...}</pre>} block; the marker is the Javadoc line before it
 * (an HTML comment, invisible in the rendered page); every such block needs a marker.</li>
 * </ul>
 */
public final class SnippetChecker {
    static final Pattern MARKER = Pattern.compile("<!-- example: (\\S+)#([\\w.-]+) -->");
    private static final Pattern JAVADOC_PREFIX = Pattern.compile("^\\s*\\*( |$)");

    private final Path root;

    /** @param root the repository root marker paths are relative to */
    public SnippetChecker(Path root) {
        this.root = root;
    }

    /** @return one line per problem in the Markdown text {@code doc} (named {@code where}); empty when none */
    public List<String> checkMarkdown(String where, String doc) {
        List<String> problems = new ArrayList<>();
        String[] lines = doc.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            if (!lines[i].strip().equals("```java")) {
                continue;
            }
            int end = i + 1;
            while (end < lines.length && !lines[end].strip().equals("```")) {
                end++;
            }
            if (end == lines.length) {
                problems.add(where + ":" + (i + 1) + ": unterminated ```java block");
                break;
            }
            List<String> snippet = Arrays.asList(lines).subList(i + 1, end);
            check(where, i + 1, i > 0 ? lines[i - 1] : "", snippet, problems);
            i = end;
        }
        return problems;
    }

    /** @return one line per problem in the Java source {@code src} (named {@code where}); empty when none */
    public List<String> checkJavadoc(String where, String src) {
        List<String> problems = new ArrayList<>();
        String[] lines = src.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String text = javadocText(lines[i]);
            if (text == null || !text.strip().equals("<pre>{@code")) {
                if (text != null && text.contains("<pre>{@code")) {
                    problems.add(where + ":" + (i + 1) + ": put <pre>{@code alone on its line");
                }
                continue;
            }
            int end = i + 1;
            List<String> snippet = new ArrayList<>();
            while (end < lines.length) {
                String t = javadocText(lines[end]);
                if (t == null) {
                    problems.add(where + ":" + (i + 1) + ": unterminated <pre>{@code block");
                    return problems;
                }
                if (t.strip().equals("}</pre>")) {
                    break;
                }
                snippet.add(t);
                end++;
            }
            String before = i > 0 ? javadocText(lines[i - 1]) : null;
            check(where, i + 1, before == null ? "" : before, snippet, problems);
            i = end;
        }
        return problems;
    }

    /** The text of a Javadoc continuation line after its {@code * } prefix, or null when it is not one. */
    private static String javadocText(String line) {
        Matcher m = JAVADOC_PREFIX.matcher(line);
        return m.find() ? line.substring(m.end()) : null;
    }

    private void check(String where, int lineNo, String markerLine, List<String> snippet, List<String> problems) {
        Matcher m = MARKER.matcher(markerLine.strip());
        if (!m.matches()) {
            problems.add(where + ":" + lineNo + ": java snippet without a preceding <!-- example: PATH#region --> line"
                    + " (every snippet must be a copy of a tested example)");
            return;
        }
        List<String> region;
        try {
            region = region(m.group(1), m.group(2));
        } catch (IllegalArgumentException e) {
            problems.add(where + ":" + lineNo + ": " + e.getMessage());
            return;
        }
        List<String> got = stripTrailing(snippet);
        if (!got.equals(region)) {
            int at = 0;
            while (at < got.size() && at < region.size() && got.get(at).equals(region.get(at))) {
                at++;
            }
            problems.add(where + ":" + lineNo + ": snippet drifted from " + m.group(1) + "#" + m.group(2)
                    + " at snippet line " + (at + 1) + ":\n    doc:     "
                    + (at < got.size() ? "'" + got.get(at) + "'" : "(end)") + "\n    example: "
                    + (at < region.size() ? "'" + region.get(at) + "'" : "(end)"));
        }
    }

    /** The lines of {@code // [name]} ... {@code // [/name]} in {@code path}, common indentation removed. */
    List<String> region(String path, String name) {
        Path file = root.resolve(path).normalize();
        if (!file.startsWith(root) || !Files.isRegularFile(file)) {
            throw new IllegalArgumentException("no file " + path);
        }
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        int start = -1;
        int end = -1;
        for (int i = 0; i < lines.size(); i++) {
            String s = lines.get(i).strip();
            if (s.equals("// [" + name + "]")) {
                if (start >= 0) {
                    throw new IllegalArgumentException(path + ": region [" + name + "] opened twice");
                }
                start = i;
            } else if (s.equals("// [/" + name + "]") && start >= 0 && end < 0) {
                end = i;
            }
        }
        if (start < 0 || end < 0) {
            throw new IllegalArgumentException(path + ": no region // [" + name + "] ... // [/" + name + "]");
        }
        List<String> body = stripTrailing(lines.subList(start + 1, end));
        if (body.isEmpty()) {
            throw new IllegalArgumentException(path + ": region [" + name + "] is empty");
        }
        int indent = Integer.MAX_VALUE;
        for (String l : body) {
            if (!l.isBlank()) {
                indent = Math.min(indent, l.length() - l.stripLeading().length());
            }
        }
        List<String> out = new ArrayList<>();
        for (String l : body) {
            out.add(l.isBlank() ? "" : l.substring(indent));
        }
        return out;
    }

    private static List<String> stripTrailing(List<String> lines) {
        List<String> out = new ArrayList<>();
        for (String l : lines) {
            out.add(l.stripTrailing());
        }
        return out;
    }
}
