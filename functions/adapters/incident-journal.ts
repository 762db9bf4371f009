/**
 * The IncidentJournal of both modes: saves the incident record at each phase (so a run that follows a timed-out
 * one knows what was already done, and which Slack message to update) and keeps Slack up to date.
 *
 * Approve mode: with a bot token the journal has `propose`, which puts the proposal's buttons on the incident's
 * message. A webhook cannot carry an answer back (no buttons reach Reflex through it), so a webhook journal, or one
 * without Slack, has no `propose`, and the core falls back to observe.
 */
import { withoutUndefined, type IncidentPhase, type IncidentRecord } from '../core/incident.ts';
import type { CoreLogger, IncidentJournal, IncidentStore } from '../core/ports.ts';
import type { Report } from '../core/types.ts';
import { BotNotifier } from './slack/bot-notifier.ts';
import type { SlackConfig } from './slack/secrets.ts';
import { WebhookNotifier } from './slack/webhook-notifier.ts';
import type { SlackDelivery } from './slack/delivery.ts';

export interface JournalOptions {
  readonly store?: IncidentStore;
  readonly slack?: SlackConfig;
  /** Tests point the bot client at a local server. */
  readonly slackApiUrl?: string;
  readonly logger?: CoreLogger;
  readonly now?: () => Date;
}

export class Journal implements IncidentJournal {
  /**
   * Present only with a bot token: shows the proposal on the incident's message, waits until Slack has it (the
   * durable execution suspends once this returns), then saves the incident record with the message reference, so
   * the run that resumes after the answer updates the same message. Never throws; a failure is logged, and a
   * proposal nobody can see expires with nothing done.
   */
  // `declare`: no field initializer, so without a bot the property is absent, not undefined (`'propose' in journal` is false).
  declare readonly propose?: (report: Report, callbackId: string) => Promise<void>;
  readonly #options: JournalOptions;
  readonly #now: () => Date;
  #slack: WebhookNotifier | BotNotifier | undefined;
  /** The message opened so far (queued): later phases update it; `closed` waits for all of them. */
  #pending: Promise<SlackDelivery | undefined> = Promise.resolve(undefined);
  #opened = false;
  #started = false;
  #record: IncidentRecord | undefined;
  #last: SlackDelivery | undefined;

  constructor(options: JournalOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
    if (options.slack?.kind === 'bot') this.propose = (report, callbackId) => this.#propose(report, callbackId);
  }

  /** What the last Slack delivery said (after `closed`). */
  get slackDelivery(): SlackDelivery | undefined {
    return this.#last;
  }

  async phase(phase: IncidentPhase, report: Report): Promise<void> {
    await this.#begin(report);
    this.#slackPhase(phase, report);
    if (phase === 'closed') this.#last = await this.#pending;
    await this.#save(phase, report);
  }

  /** The first call of a run: a run that follows an unfinished one for the same incident carries on its record and Slack message. */
  async #begin(report: Report): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const previous = await this.#load(report.instanceId);
    if (previous?.incidentId === report.incidentId) this.#record = previous;
  }

  async #propose(report: Report, callbackId: string): Promise<void> {
    await this.#begin(report);
    const slack = this.#notifier();
    if (!(slack instanceof BotNotifier)) return;
    this.#opened = true;
    this.#pending = this.#pending
      .then(() => slack.propose(report, callbackId))
      .then((delivery) => {
        if (!delivery.ok) this.#options.logger?.warn('Slack proposal failed: nobody can answer it, and it will expire with nothing done', { error: delivery.error });
        return delivery;
      });
    await this.#pending;
    // The record keeps its phase; what matters is the message reference, for the run that resumes after the answer.
    await this.#save(this.#record?.phase ?? 'diagnosing', report);
  }

  #notifier(): WebhookNotifier | BotNotifier | undefined {
    const config = this.#options.slack;
    if (!config) return undefined;
    if (!this.#slack) {
      const message = this.#record?.slack;
      this.#slack =
        config.kind === 'bot'
          ? new BotNotifier({ token: config.token, channel: config.channel, ...(message && { message }), ...(this.#options.slackApiUrl && { slackApiUrl: this.#options.slackApiUrl }) })
          : new WebhookNotifier({ url: config.url });
    }
    return this.#slack;
  }

  /** Slack calls are queued, never awaited here: a slow Slack must not delay the restart. */
  #slackPhase(phase: IncidentPhase, report: Report): void {
    const slack = this.#notifier();
    if (!slack) return;
    const first = !this.#opened;
    this.#opened = true;
    const send = (): Promise<SlackDelivery> => {
      if (phase === 'closed') return slack.close(report);
      if (slack instanceof BotNotifier) return first ? slack.open(report, phase) : slack.update(phase, report);
      // A webhook cannot edit: one message when the incident opens, one when it ends.
      return first ? slack.open(report) : Promise.resolve({ channel: 'slack', ok: true });
    };
    this.#pending = this.#pending.then(send).then((delivery) => {
      if (!delivery.ok) this.#options.logger?.warn('Slack delivery failed', { phase, error: delivery.error });
      return delivery;
    });
  }

  async #load(instanceId: string): Promise<IncidentRecord | undefined> {
    try {
      return await this.#options.store?.loadIncident(instanceId);
    } catch (error) {
      this.#options.logger?.warn('could not read the incident record', { error: String(error) });
      return undefined;
    }
  }

  async #save(phase: IncidentPhase, report: Report): Promise<void> {
    const store = this.#options.store;
    if (!store) return;
    const now = this.#now().toISOString();
    const before = this.#record;
    const message = (this.#slack instanceof BotNotifier ? this.#slack.message : undefined) ?? before?.slack;
    const issued = phase === 'acting' ? { actionKind: report.action.kind, actionIssuedAt: now } : {};
    const record: IncidentRecord = withoutUndefined({
      incidentId: report.incidentId,
      instanceId: report.instanceId,
      openedAt: before?.openedAt ?? now,
      updatedAt: now,
      phase,
      cause: report.diagnosis.cause,
      actionKind: before?.actionKind,
      actionIssuedAt: before?.actionIssuedAt,
      ...issued,
      outcome: phase === 'closed' ? report.outcome : undefined,
      slack: message,
    });
    this.#record = record;
    try {
      await store.saveIncident(record);
    } catch (error) {
      this.#options.logger?.warn('could not save the incident record', { phase, error: String(error) });
    }
  }
}
