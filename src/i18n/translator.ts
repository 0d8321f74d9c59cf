import type { Catalogues, Language } from './catalogues.ts';

/**
 * One person's language for one answer: messages from the catalogues, and amounts, dates and times formatted with
 * Intl for `tag` (the fuller locale they asked for, e.g. nl-BE, whose conventions differ from nl-NL's) in `timeZone`.
 */
export class Translator {
  readonly language: Language;
  readonly tag: string;
  readonly timeZone: string;
  readonly #catalogues: Catalogues;

  constructor(catalogues: Catalogues, language: Language, tag: string, timeZone: string) {
    this.#catalogues = catalogues;
    this.language = language;
    this.tag = tag;
    this.timeZone = timeZone;
  }

  t(key: string, values?: Record<string, unknown>): string {
    return this.#catalogues.format(this.language, key, values);
  }

  has(key: string): boolean {
    return this.#catalogues.has(key);
  }

  money(amount: string | number, currency: string): string {
    return new Intl.NumberFormat(this.tag, { style: 'currency', currency }).format(Number(amount));
  }

  /** Several names as one phrase in the reader's language: "A, B and C", "A, B en C", "A, B et C". */
  list(items: readonly string[]): string {
    return new Intl.ListFormat(this.tag, { type: 'conjunction' }).format(items);
  }

  /** Date and time, with the time zone's short name, so a person abroad sees which clock is meant. */
  dateTime(value: Date | string): string {
    return new Intl.DateTimeFormat(this.tag, {
      // dateStyle and timeStyle cannot be combined with timeZoneName: the fields are named one by one.
      year: 'numeric',
      month: 'short',
      day: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      timeZone: this.timeZone,
      timeZoneName: 'short',
    }).format(new Date(value));
  }

  /** A calendar day written as YYYY-MM-DD: the same day wherever the reader is. */
  day(isoDate: string): string {
    return new Intl.DateTimeFormat(this.tag, { dateStyle: 'long', timeZone: 'UTC' }).format(
      new Date(`${isoDate}T12:00:00Z`),
    );
  }

  date(value: Date | string): string {
    return new Intl.DateTimeFormat(this.tag, { dateStyle: 'long', timeZone: this.timeZone }).format(new Date(value));
  }
}
