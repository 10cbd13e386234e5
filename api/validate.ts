import type { Context } from 'hono';
import type { z } from 'zod';
import { AppError } from './errors.ts';

/** Parses the query string with a zod schema; any failure is a `VALIDATION_ERROR` naming the fields. */
export function validateQuery<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  const repeated = Object.entries(c.req.queries()).find(([, values]) => values.length > 1);
  if (repeated) throw new AppError('VALIDATION_ERROR', `query parameter "${repeated[0].slice(0, 40)}" is given more than once`);
  const result = schema.safeParse(c.req.query());
  if (!result.success) throw fromZodError(result.error);
  return result.data;
}

export async function validateJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new AppError('VALIDATION_ERROR', 'request body must be valid JSON');
  }
  const result = schema.safeParse(body);
  if (!result.success) throw fromZodError(result.error);
  return result.data;
}

/** A zod issue may carry its own project error code in `params.code` (e.g. INVALID_DATE_RANGE). */
export function fromZodError(error: z.ZodError): AppError {
  const first = error.issues[0];
  const custom = first && 'params' in first ? (first.params as { code?: unknown } | undefined)?.code : undefined;
  const message = error.issues
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
  return new AppError(custom === 'INVALID_DATE_RANGE' ? 'INVALID_DATE_RANGE' : 'VALIDATION_ERROR', message);
}
