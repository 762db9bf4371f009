/**
 * Approve mode's answers: what a person's click (the Slack interactivity endpoint) or a terminal answer sends to the
 * waiting incident, as text, and how the incident reads it back. One format, both ends.
 */
import type { Person } from './types.ts';

/** A person's answer to one proposal. */
export interface Answer {
  readonly decision: 'approve' | 'dismiss';
  readonly by: Person;
  /** When the person answered (ISO). */
  readonly at: string;
}

const ID = /^[A-Za-z0-9._-]{1,64}$/;

/** The text sent to the waiting incident's callback. */
export function answerText(answer: Answer): string {
  return JSON.stringify(answer);
}

/** Reads an answer back; undefined for anything that is not a well-formed one (nothing is done then). */
export function parseAnswer(text: string | undefined): Answer | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { decision, by, at } = value as Record<string, unknown>;
  if (decision !== 'approve' && decision !== 'dismiss') return undefined;
  if (typeof at !== 'string' || Number.isNaN(Date.parse(at))) return undefined;
  if (typeof by !== 'object' || by === null) return undefined;
  const { id, name } = by as Record<string, unknown>;
  if (typeof id !== 'string' || !ID.test(id)) return undefined;
  if (name !== undefined && (typeof name !== 'string' || name.length > 80)) return undefined;
  return { decision, at, by: { id, ...(name !== undefined && { name }) } };
}
