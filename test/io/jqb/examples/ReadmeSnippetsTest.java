package io.jqb.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every Java snippet in README.md, docs/*.md and the Javadoc of java/ is a verbatim copy of a region of an example in
 * test/io/jqb/examples (see {@link SnippetChecker} for the convention); the examples themselves run in
 * {@code ExamplesTest}.
 */
class ReadmeSnippetsTest {
    private static final Path ROOT = Path.of("").toAbsolutePath();
    private final SnippetChecker checker = new SnippetChecker(ROOT);

    @Test
    void markdownSnippetsAreCopiesOfTestedExamples() throws IOException {
        List<Path> docs = new ArrayList<>(List.of(ROOT.resolve("README.md")));
        try (Stream<Path> s = Files.list(ROOT.resolve("docs"))) {
            s.filter(p -> p.toString().endsWith(".md")).sorted().forEach(docs::add);
        }
        List<String> problems = new ArrayList<>();
        for (Path d : docs) {
            problems.addAll(checker.checkMarkdown(ROOT.relativize(d).toString(), Files.readString(d)));
        }
        assertTrue(problems.isEmpty(), String.join("\n", problems));
        assertTrue(Files.readString(ROOT.resolve("README.md")).contains("<!-- example: "), "README has no snippets");
    }

    /**
     * Source folders whose Javadoc snippets are not yet copies of examples (written before the convention); each
     * family's folder leaves this list when its snippets carry markers. {@link #thePendingListOnlyShrinks} fails
     * when a listed folder has no unmarked snippet left, so the list cannot go stale.
     */
    private static final List<String> PENDING = List.of();

    private Map<String, List<String>> javadocProblems() throws IOException {
        List<Path> sources;
        try (Stream<Path> s = Files.walk(ROOT.resolve("java"))) {
            sources = s.filter(p -> p.toString().endsWith(".java")).sorted().collect(Collectors.toList());
        }
        Map<String, List<String>> problems = new TreeMap<>();
        for (Path p : sources) {
            String rel = ROOT.relativize(p).toString();
            List<String> found = checker.checkJavadoc(rel, Files.readString(p));
            if (!found.isEmpty()) {
                String folder = PENDING.stream().filter(rel::startsWith).findFirst().orElse("");
                problems.computeIfAbsent(folder, k -> new ArrayList<>()).addAll(found);
            }
        }
        return problems;
    }

    @Test
    void javadocSnippetsAreCopiesOfTestedExamples() throws IOException {
        List<String> problems = javadocProblems().getOrDefault("", List.of());
        assertTrue(problems.isEmpty(), String.join("\n", problems));
    }

    @Test
    void thePendingListOnlyShrinks() throws IOException {
        Map<String, List<String>> problems = javadocProblems();
        for (String folder : PENDING) {
            assertTrue(problems.containsKey(folder), folder + " has no unmarked Javadoc snippet left: remove it from"
                    + " ReadmeSnippetsTest.PENDING");
        }
    }

    // ---------------------------------------------------------------- the checker itself fails when it must

    private static final String EXAMPLE = String.join("\n",
            "class X {",
            "    void f() {",
            "        // [demo]",
            "        if (a) {",
            "            b();",
            "",
            "        }",
            "        // [/demo]",
            "    }",
            "}", "");

    private SnippetChecker sample(Path dir) throws IOException {
        Files.createDirectories(dir.resolve("ex"));
        Files.writeString(dir.resolve("ex/X.java"), EXAMPLE);
        return new SnippetChecker(dir);
    }

    @Test
    void anExactCopyPasses(@TempDir Path dir) throws IOException {
        String md = "text\n<!-- example: ex/X.java#demo -->\n```java\nif (a) {\n    b();\n\n}\n```\n";
        assertEquals(List.of(), sample(dir).checkMarkdown("R.md", md));
        String src = "/**\n * Doc.\n *\n * <!-- example: ex/X.java#demo -->\n * <pre>{@code\n * if (a) {\n *     b();\n"
                + " *\n * }\n * }</pre>\n */\nclass Y {}\n";
        assertEquals(List.of(), sample(dir).checkJavadoc("Y.java", src));
    }

    @Test
    void driftFails(@TempDir Path dir) throws IOException {
        String md = "<!-- example: ex/X.java#demo -->\n```java\nif (a) {\n    c();\n\n}\n```\n";
        List<String> p = sample(dir).checkMarkdown("R.md", md);
        assertEquals(1, p.size(), p.toString());
        assertTrue(p.get(0).contains("drifted") && p.get(0).contains("c();"), p.get(0));
        String shorter = "<!-- example: ex/X.java#demo -->\n```java\nif (a) {\n    b();\n```\n";
        assertEquals(1, sample(dir).checkMarkdown("R.md", shorter).size());
        String src = "/**\n * <!-- example: ex/X.java#demo -->\n * <pre>{@code\n * if (b) {\n * }</pre>\n */\n";
        assertEquals(1, sample(dir).checkJavadoc("Y.java", src).size());
    }

    @Test
    void aSnippetWithoutMarkerFails(@TempDir Path dir) throws IOException {
        List<String> p = sample(dir).checkMarkdown("R.md", "Intro\n```java\nint x;\n```\n");
        assertEquals(1, p.size());
        assertTrue(p.get(0).startsWith("R.md:2:"), p.get(0));
        String src = "/**\n * Doc.\n * <pre>{@code\n * int x;\n * }</pre>\n */\n";
        assertEquals(1, sample(dir).checkJavadoc("Y.java", src).size());
    }

    @Test
    void aMissingRegionOrFileFails(@TempDir Path dir) throws IOException {
        assertEquals(1, sample(dir).checkMarkdown("R.md", "<!-- example: ex/X.java#nope -->\n```java\nx\n```\n")
                .size());
        assertEquals(1, sample(dir).checkMarkdown("R.md", "<!-- example: ex/Y.java#demo -->\n```java\nx\n```\n")
                .size());
        assertEquals(1, sample(dir).checkMarkdown("R.md",
                "<!-- example: ../../etc/passwd#demo -->\n```java\nx\n```\n").size());
    }

    @Test
    void otherFencesAreNotSnippets(@TempDir Path dir) throws IOException {
        assertEquals(List.of(), sample(dir).checkMarkdown("R.md", "```sh\nmake\n```\n```\nplain\n```\n"));
    }
}
