// syd-style globs over byte strings (latin1): `*` and `?` never cross `/`, `**` does,
// a trailing `/***` is the directory itself and everything below it.
export type Matcher = (path: string) => boolean;

const cache = new Map<string, Matcher>();

function escapeRegex(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c;
}

/** True when the pattern has no glob metacharacters (compared by string equality). */
export function isLiteral(pattern: string): boolean {
  return !/[*?[\\]/.test(pattern);
}

function classToRegex(pattern: string, i: number): [string, number] | null {
  // pattern[i] === '['; returns [regex, index after ']'] or null if unterminated.
  let j = i + 1;
  let negate = false;
  if (pattern[j] === '!' || pattern[j] === '^') {
    negate = true;
    j++;
  }
  let body = '';
  let first = true;
  for (; j < pattern.length; j++) {
    const c = pattern[j]!;
    if (c === ']' && !first) {
      // SAFETY: a class never matches `/`, as `*` and `?` don't.
      return [negate ? `[^/${body}]` : `(?!/)[${body}]`, j + 1];
    }
    first = false;
    if (c === '\\' && j + 1 < pattern.length) {
      body += `\\${pattern[++j]}`;
    } else if (c === '-' ) body += '-';
    else body += /[\\\]^]/.test(c) ? `\\${c}` : c;
  }
  return null;
}

/** Compiles a glob to an anchored RegExp. */
export function globToRegExp(pattern: string): RegExp {
  let src = '';
  let p = pattern;
  let tree = false;
  if (p.endsWith('/***')) {
    tree = true;
    p = p.slice(0, -4);
  }
  for (let i = 0; i < p.length; ) {
    const c = p[i]!;
    if (c === '*') {
      if (p[i + 1] === '*') {
        src += '.*';
        i += 2;
        while (p[i] === '*') i++;
      } else {
        src += '[^/]*';
        i++;
      }
    } else if (c === '?') {
      src += '[^/]';
      i++;
    } else if (c === '[') {
      const cls = classToRegex(p, i);
      if (cls) {
        src += cls[0];
        i = cls[1];
      } else {
        src += '\\[';
        i++;
      }
    } else if (c === '\\' && i + 1 < p.length) {
      src += escapeRegex(p[i + 1]!);
      i += 2;
    } else {
      src += escapeRegex(c);
      i++;
    }
  }
  if (tree) src += '(?:/.*)?';
  return new RegExp(`^${src}$`, 's');
}

/** A cached matcher for the pattern: string equality for literals, a RegExp otherwise. */
export function compileGlob(pattern: string): Matcher {
  let m = cache.get(pattern);
  if (!m) {
    if (isLiteral(pattern)) m = (path) => path === pattern;
    else {
      const re = globToRegExp(pattern);
      m = (path) => re.test(path);
    }
    cache.set(pattern, m);
  }
  return m;
}
