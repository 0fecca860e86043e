// Tests that give rules mean those rules only: they were written when -m/-P replaced the default
// profile. Since the user profile is the base unless a -p is given (issue 13), such a policy gets
// `-p none` first; an empty one stays the default (the user profile), as before.

/** `policy` as the only rules (`-p none` first), unless it is empty or names a profile itself. */
export function onlyThese(policy: readonly string[]): string[] {
  const hasProfile = policy.some((a) => a === '-p' || a === '--profile' || (a.startsWith('-p') && !a.startsWith('--')) || a.startsWith('--profile='));
  const hasRules = policy.some((a) => a === '-m' || a === '-P' || a.startsWith('-m') || a.startsWith('-P') || a.startsWith('--rule') || a.startsWith('--policy-file'));
  return hasRules && !hasProfile ? ['-p', 'none', ...policy] : [...policy];
}
