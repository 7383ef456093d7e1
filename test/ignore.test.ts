// .dockerignore's matcher (src/build/ignore.ts) against docker's own tables: the examples of the
// .dockerignore documentation, moby/patternmatcher's TestMatches and TestMatch (Go's filepath.Match
// cases), how a file is read (comments, blank lines, cleaning, a leading /), and what a walk of
// the context does with an ignored dir. No mounts, no store.
import t from 'tap';
import { IgnoreMatcher } from '../src/build/ignore.js';

const ignored = (text: string, p: string) => IgnoreMatcher.parse(text).matches(p);

t.test("the .dockerignore documentation's examples", async (t) => {
  const file = '# comment\n*/temp*\n*/*/temp*\ntemp?\n';
  const cases: [string, boolean][] = [
    ['somedir/temporary.txt', true], // */temp*: names starting with temp one level down
    ['somedir/temp', true],
    ['temporary.txt', false], // not at the root
    ['somedir/subdir/temporary.txt', true], // */*/temp*: two levels down
    ['a/b/c/temp', false], // three levels: neither
    ['tempa', true], // temp?: one more character, at the root
    ['tempb', true],
    ['tempab', false],
    ['# comment', false], // a comment is no pattern
  ];
  for (const [p, want] of cases) t.equal(ignored(file, p), want, `${p}: ${want ? 'ignored' : 'sent'}`);

  t.ok(ignored('**/*.go\n', 'main.go'), '**/*.go: a .go file at the root');
  t.ok(ignored('**/*.go\n', 'a/b/c/x.go'), 'and anywhere below');
  t.notOk(ignored('**/*.go\n', 'a/b/x.golang'), 'only .go');

  const md = '*.md\n!README.md\n';
  t.ok(ignored(md, 'CHANGES.md'), '*.md, !README.md: other markdown files at the root are ignored');
  t.notOk(ignored(md, 'README.md'), 'README.md is the exception');
  t.notOk(ignored(md, 'docs/guide.md'), '*.md does not reach into dirs');

  const secret = '*.md\n!README*.md\nREADME-secret.md\n';
  t.notOk(ignored(secret, 'README-public.md'), 'README files come back');
  t.ok(ignored(secret, 'README-secret.md'), 'but a later line ignores README-secret.md again: the last match wins');
  t.ok(ignored(secret, 'other.md'), 'and other markdown stays ignored');
  const allReadmes = '*.md\nREADME-secret.md\n!README*.md\n';
  t.notOk(ignored(allReadmes, 'README-secret.md'), 'with the exception last, every README is sent');
});

t.test('reading the file: comments, blank lines, trimming, cleaning, a leading /', async (t) => {
  const m = IgnoreMatcher.parse('\uFEFF/build/\n\n   \n  spaced.txt  \n./a/../cleaned\n  # not a comment\n#comment\n! notes.txt\n');
  t.ok(m.matches('build'), 'a leading / and a trailing / are dropped (a BOM too)');
  t.ok(m.matches('build/out/x.o'), 'and a dir takes all below it');
  t.ok(m.matches('spaced.txt'), 'patterns are trimmed');
  t.ok(m.matches('cleaned'), 'and cleaned as filepath.Clean does');
  t.ok(m.matches('# not a comment'), 'only a # at the very start of a line makes a comment');
  t.notOk(m.matches('comment') || m.matches('#comment'), 'a comment matches nothing');
  t.ok(m.exclusions, '"! notes.txt" is an exception (the space after ! is trimmed)');
  t.notOk(IgnoreMatcher.parse('*.txt\n! notes.txt\n').matches('notes.txt'), 'and it brings notes.txt back');
  t.notOk(IgnoreMatcher.parse('*\n').matches('.'), 'the context itself is never ignored');
});

t.test("moby/patternmatcher's TestMatches table", async (t) => {
  // [pattern, path, matches (MatchesOrParentMatches)]; the ones marked inexact match only through a parent dir
  const table: [string, string, boolean][] = [
    ['**', 'file', true],
    ['**', 'file/', true],
    ['**/', 'file', true],
    ['**/', 'file/', true],
    ['**', '/', true],
    ['**/', '/', true],
    ['**', 'dir/file', true],
    ['**/', 'dir/file', true],
    ['**', 'dir/file/', true],
    ['**/', 'dir/file/', true],
    ['**/**', 'dir/file', true],
    ['**/**', 'dir/file/', true],
    ['dir/**', 'dir/file', true],
    ['dir/**', 'dir/file/', true],
    ['dir/**', 'dir/dir2/file', true],
    ['dir/**', 'dir/dir2/file/', true],
    ['**/dir', 'dir', true],
    ['**/dir', 'dir/file', true], // inexact
    ['**/dir2/*', 'dir/dir2/file', true],
    ['**/dir2/*', 'dir/dir2/file/', true], // inexact
    ['**/dir2/**', 'dir/dir2/dir3/file', true],
    ['**/dir2/**', 'dir/dir2/dir3/file/', true],
    ['**file', 'file', true],
    ['**file', 'dir/file', true],
    ['**/file', 'dir/file', true],
    ['**file', 'dir/dir/file', true],
    ['**/file', 'dir/dir/file', true],
    ['**/file*', 'dir/dir/file', true],
    ['**/file*', 'dir/dir/file.txt', true],
    ['**/file*txt', 'dir/dir/file.txt', true],
    ['**/file*.txt', 'dir/dir/file.txt', true],
    ['**/file*.txt*', 'dir/dir/file.txt', true],
    ['**/**/*.txt', 'dir/dir/file.txt', true],
    ['**/**/*.txt2', 'dir/dir/file.txt', false],
    ['**/*.txt', 'file.txt', true],
    ['**/**/*.txt', 'file.txt', true],
    ['a**/*.txt', 'a/file.txt', true],
    ['a**/*.txt', 'a/dir/file.txt', true],
    ['a**/*.txt', 'a/dir/dir/file.txt', true],
    ['a/*.txt', 'a/dir/file.txt', false],
    ['a/*.txt', 'a/file.txt', true],
    ['a/*.txt**', 'a/file.txt', true],
    ['a[b-d]e', 'ae', false],
    ['a[b-d]e', 'ace', true],
    ['a[b-d]e', 'aae', false],
    ['a[^b-d]e', 'aze', true],
    ['.*', '.foo', true],
    ['.*', 'foo', false],
    ['abc.def', 'abcdef', false],
    ['abc.def', 'abc.def', true],
    ['abc.def', 'abcZdef', false],
    ['abc?def', 'abcZdef', true],
    ['abc?def', 'abcdef', false],
    ['**/foo/bar', 'foo/bar', true],
    ['**/foo/bar', 'dir/foo/bar', true],
    ['**/foo/bar', 'dir/dir2/foo/bar', true],
    ['abc/**', 'abc', false],
    ['abc/**', 'abc/def', true],
    ['abc/**', 'abc/def/ghi', true],
    ['**/.foo', '.foo', true],
    ['**/.foo', 'bar.foo', false],
    ['a(b)c/def', 'a(b)c/def', true],
    ['a(b)c/def', 'a(b)c/xyz', false],
    ['a.|)$(}+{bc', 'a.|)$(}+{bc', true],
    ['dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', true],
    ['dist/*.whl', 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', true],
    ['a\\\\', 'a\\', true],
    ['a\\*b', 'a*b', true],
  ];
  for (const [pattern, p, want] of table) t.equal(IgnoreMatcher.of([pattern]).matches(p), want, `${pattern} ${want ? 'matches' : 'does not match'} ${p}`);
  const multi: [string[], string, boolean][] = [
    [['**', '!util/docker/web'], 'util/docker/web/foo', false],
    [['**', '!util/docker/web', 'util/docker/web/foo'], 'util/docker/web/foo', true],
    [['**', '!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl'], 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', false],
    [['**', '!dist/*.whl'], 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', false],
    [['docs', '!docs/README.md'], 'docs/README.md', false],
    [['docs/', '!docs/README.md'], 'docs/README.md', false],
    [['docs/*', '!docs/README.md'], 'docs/README.md', false],
    [['*.go', '!fileutils.go'], 'fileutils.go', false],
    [['!fileutils.go', '*.go'], 'fileutils.go', true],
  ];
  for (const [patterns, p, want] of multi) t.equal(IgnoreMatcher.of(patterns).matches(p), want, `${patterns.join(' ')}: ${p} ${want ? 'ignored' : 'sent'}`);
});

t.test("Go's filepath.Match cases (patternmatcher's TestMatch), bad patterns included", async (t) => {
  const table: [string, string, boolean][] = [
    ['abc', 'abc', true],
    ['*', 'abc', true],
    ['*c', 'abc', true],
    ['a*', 'a', true],
    ['a*', 'abc', true],
    ['a*', 'ab/c', true], // through its parent "ab"
    ['a*/b', 'abc/b', true],
    ['a*/b', 'a/c/b', false],
    ['a*b*c*d*e*/f', 'axbxcxdxe/f', true],
    ['a*b*c*d*e*/f', 'axbxcxdxexxx/f', true],
    ['a*b*c*d*e*/f', 'axbxcxdxe/xxx/f', false],
    ['a*b*c*d*e*/f', 'axbxcxdxexxx/fff', false],
    ['a*b?c*x', 'abxbbxdbxebxczzx', true],
    ['a*b?c*x', 'abxbbxdbxebxczzy', false],
    ['ab[c]', 'abc', true],
    ['ab[b-d]', 'abc', true],
    ['ab[e-g]', 'abc', false],
    ['ab[^c]', 'abc', false],
    ['ab[^b-d]', 'abc', false],
    ['ab[^e-g]', 'abc', true],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'ab', false],
    ['a?b', 'a☺b', true],
    ['a[^a]b', 'a☺b', true],
    ['a???b', 'a☺b', false],
    ['a[^a][^a][^a]b', 'a☺b', false],
    ['[a-ζ]*', 'α', true],
    ['*[a-ζ]', 'A', false],
    ['a?b', 'a/b', false],
    ['a*b', 'a/b', false],
    ['[\\]a]', ']', true],
    ['[\\-]', '-', true],
    ['[x\\-]', 'x', true],
    ['[x\\-]', '-', true],
    ['[x\\-]', 'z', false],
    ['[\\-x]', 'x', true],
    ['[\\-x]', '-', true],
    ['[\\-x]', 'a', false],
    ['*x', 'xxx', true],
  ];
  for (const [pattern, p, want] of table) t.equal(IgnoreMatcher.of([pattern]).matches(p), want, `${pattern} ${want ? 'matches' : 'does not match'} ${p}`);
  for (const bad of ['[]a]', '[-]', '[x-]', '[-x]', '\\', '[a-b-c]', '[', '[^', '[^bc', 'a[']) {
    t.throws(() => IgnoreMatcher.of([bad]), { message: `syntax error in pattern: ${bad}` }, `${bad} is a bad pattern`);
  }
  t.throws(() => IgnoreMatcher.of(['!']), { message: 'illegal exclusion pattern: "!"' }, 'a lone ! too');
  t.throws(
    () => IgnoreMatcher.parse('ok\n# fine\nbad[\n'),
    { code: 'invalid', message: '.dockerignore, line 3: syntax error in pattern: bad[' },
    "in a file: one sentence with the file's line",
  );
});

t.test("a walk of the context: an ignored dir is left out whole unless an exception names what is below it (docker's context tar)", async (t) => {
  const m = IgnoreMatcher.parse('secret\n!secret/public.pem\nbuild\n*.tmp\n');
  t.equal(m.verdict('src', true), 'in', 'a dir nothing names is sent');
  t.equal(m.verdict('build', true), 'out', 'an ignored dir no exception reaches is left out whole');
  t.equal(m.verdict('secret', true), 'through', 'a dir an exception reaches is walked into, without its own entry');
  t.equal(m.verdict('secret/key', false), 'out', 'what the exception does not name stays out');
  t.equal(m.verdict('secret/public.pem', false), 'in', 'what it names comes back');
  t.equal(m.verdict('a.tmp', false), 'out', 'an ignored file');
  t.equal(IgnoreMatcher.parse('x\n').verdict('x', true), 'out', 'without exceptions, no dir is walked into');
});
