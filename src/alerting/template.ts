/**
 * Annotation templates shared by the in-process evaluator and the generated Prometheus rules. Only the part of Go's
 * text/template both sides render identically is accepted: `{{ $value }}` and `{{ $labels.<name> }}`; anything else in
 * `{{ }}` is rejected when the rule is validated, so an annotation reads the same in perfwatch and in Alertmanager.
 */

const TOKEN_RE = /\{\{\s*(\$value|\$labels\.([a-zA-Z_][a-zA-Z0-9_]*))\s*\}\}/g;

/**
 * A float64 printed as Go's `fmt` `%v` prints it, which is what `{{ $value }}` shows in Prometheus: the shortest
 * round-trip digits (the same digits JS picks) in exponent form when the exponent is < -4 or >= 6, with at least two
 * exponent digits — so 1234567 is `1.234567e+06` and 0.00001 is `1e-05`, where JS would print `1234567` and `0.00001`.
 * Checked against promtool on edge values in test/alerting/template.test.ts.
 */
export function goFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const [m, e] = v.toExponential().split('e') as [string, string];
  const exp = Number(e);
  const neg = m.startsWith('-');
  const digits = m.replace('-', '').replace('.', '');
  const sign = neg ? '-' : '';
  if (exp < -4 || exp >= 6) {
    const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const ae = Math.abs(exp);
    return `${sign}${mant}e${exp < 0 ? '-' : '+'}${ae < 10 ? '0' : ''}${ae}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  if (digits.length <= exp + 1) return sign + digits + '0'.repeat(exp + 1 - digits.length);
  return `${sign}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
}

/** Null when the template only uses `{{ $value }}` and `{{ $labels.x }}`; otherwise what is wrong. */
export function templateProblem(text: string): string | null {
  if (/\$labels\.__/.test(text)) return '$labels.__name__ and other __ labels are not available';
  const rest = text.replace(TOKEN_RE, '');
  if (rest.includes('{{') || rest.includes('}}')) return 'only {{ $value }} and {{ $labels.<name> }} may appear inside {{ }}';
  return null;
}

/** Renders a validated template: `$value` as Go prints it, a missing label as Go's `<no value>`. */
export function renderTemplate(text: string, value: number, labels: Readonly<Record<string, string>>): string {
  return text.replace(TOKEN_RE, (_m, what: string, label: string | undefined) => (label === undefined ? goFloat(value) : (labels[label] ?? '<no value>')));
}
