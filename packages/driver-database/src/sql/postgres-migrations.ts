import type { Migration } from '../migration.js';

/**
 * The PostgreSQL schema steps, oldest first, for the schema `s` (already validated and quoted).
 * Never edit a released step: add a new one.
 */
export function postgresMigrations(s: string): Migration[] {
  return [
    {
      version: 1,
      name: 'jobs',
      statements: [
        `CREATE TABLE ${s}.jobs (
          seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          job_id text NOT NULL UNIQUE,
          queue text NOT NULL,
          priority integer NOT NULL,
          available_at timestamptz NOT NULL,
          reserved_until timestamptz,
          token text,
          deliveries integer NOT NULL DEFAULT 0,
          unique_key text,
          created_at timestamptz NOT NULL DEFAULT now(),
          body text NOT NULL
        ) WITH (fillfactor = 70)`,
        // The claim walks this index in (priority, seq) order inside one queue and stops at the
        // first due, unleased row, so it stays an index scan however many jobs wait.
        `CREATE INDEX jobs_claim_idx ON ${s}.jobs (queue, priority, seq)`,
        // Only live jobs are in this table (acked ones are deleted, dead ones moved), so a unique
        // index over it is exactly "held while queued, delayed or reserved".
        `CREATE UNIQUE INDEX jobs_unique_key_idx ON ${s}.jobs (unique_key) WHERE unique_key IS NOT NULL`,
      ],
    },
    {
      version: 2,
      name: 'failed-jobs',
      statements: [
        `CREATE TABLE ${s}.failed_jobs (
          seq bigint GENERATED ALWAYS AS IDENTITY,
          job_id text PRIMARY KEY,
          queue text NOT NULL,
          name text,
          priority integer NOT NULL,
          unique_key text,
          body text NOT NULL,
          poison boolean NOT NULL,
          reason text NOT NULL,
          error jsonb NOT NULL,
          attempts integer NOT NULL,
          first_failed_at bigint NOT NULL,
          failed_at bigint NOT NULL
        )`,
        `CREATE INDEX failed_jobs_failed_at_idx ON ${s}.failed_jobs (failed_at DESC, seq DESC)`,
        `CREATE INDEX failed_jobs_queue_idx ON ${s}.failed_jobs (queue, failed_at DESC, seq DESC)`,
      ],
    },
    {
      version: 3,
      name: 'rate-limits',
      statements: [
        `CREATE TABLE ${s}.rate_limits (
          key text PRIMARY KEY,
          tokens double precision NOT NULL,
          granted boolean NOT NULL,
          updated_at timestamptz NOT NULL
        )`,
      ],
    },
    {
      version: 4,
      name: 'unique-keys-per-queue',
      // A unique key is held within its queue, the scope every driver can honour (Redis Cluster
      // keeps each queue's keys in one slot).
      statements: [
        `DROP INDEX ${s}.jobs_unique_key_idx`,
        `CREATE UNIQUE INDEX jobs_unique_key_idx ON ${s}.jobs (queue, unique_key) WHERE unique_key IS NOT NULL`,
      ],
    },
    {
      version: 5,
      name: 'jobs-fillfactor-40',
      // A claim rewrites every row it takes, up to 100 neighbours in one statement, and the new
      // version is larger (a lease time and a token where there were nulls). With 60% of each
      // page free every one of those rewrites stays on its page (a HOT update: no index entry
      // written, none for the next claim to step over); at 70 about half did, at 50 nine in
      // ten of small jobs, and an ack-and-claim of 100 + 100 rows took twice as long. Pages
      // written from now on get it; the price is a table about twice as large per queued job.
      statements: [`ALTER TABLE ${s}.jobs SET (fillfactor = 40)`],
    },
    {
      version: 6,
      name: 'attempts-and-lost-deliveries',
      // One count of claims becomes two: runs that failed (release) and claims whose lease ran
      // out unsettled. The old count cannot tell them apart: every finished claim of a waiting
      // job is taken as a failed run, and a leased job's current claim is not counted. Adding a
      // column with a constant default rewrites no row; only jobs delivered before are updated.
      statements: [
        `ALTER TABLE ${s}.jobs ADD COLUMN attempts integer NOT NULL DEFAULT 0, ADD COLUMN lost_deliveries integer NOT NULL DEFAULT 0`,
        `UPDATE ${s}.jobs SET attempts = greatest(0, deliveries - (reserved_until IS NOT NULL)::int) WHERE deliveries > 0`,
        `ALTER TABLE ${s}.jobs DROP COLUMN deliveries`,
      ],
    },
    {
      version: 7,
      name: 'finished-jobs-and-pauses',
      // Lookups and steering (#15). Nullable columns without a default rewrite no row. Finished
      // jobs (completed with their result, cancelled) are one record each, made by core and
      // stored as it is. The ack stores one per job, so the table is kept cheap to insert into:
      // no identity, no unique index (a speculative insertion cost twice a plain one here), two
      // plain indexes: by job id for lookups (the newest record of an id wins), and (queue,
      // finished_at) for the newest-first listing and both prunes. `finished_at` is the server's
      // clock_timestamp() at storing, distinct per row, so the rows of one statement keep their order.
      // A paused queue is a row the claim looks up once per statement.
      statements: [
        `ALTER TABLE ${s}.jobs ADD COLUMN holder text, ADD COLUMN claimed_at timestamptz, ADD COLUMN progress text`,
        `CREATE TABLE ${s}.finished_jobs (
          job_id text NOT NULL,
          queue text NOT NULL,
          state text NOT NULL CHECK (state IN ('completed', 'cancelled')),
          finished_at timestamptz NOT NULL DEFAULT clock_timestamp(),
          record text NOT NULL
        )`,
        `CREATE INDEX finished_jobs_job_id_idx ON ${s}.finished_jobs (job_id)`,
        `CREATE INDEX finished_jobs_queue_idx ON ${s}.finished_jobs (queue, finished_at)`,
        `CREATE TABLE ${s}.paused_queues (
          queue text PRIMARY KEY,
          paused_at timestamptz NOT NULL DEFAULT now()
        )`,
      ],
    },
    {
      version: 8,
      name: 'job-groups',
      // Job groups (#17). A job's group is a nullable column (adding it rewrites no row), kept by
      // its dead letter for a retry. Grouped claims walk one lane (a group, or the ungrouped
      // jobs: null) through its own index in claim order; a claim changes none of its columns,
      // so claims stay HOT updates. The lanes of a queue (its groups, and '' for its ungrouped
      // jobs) and their turns are rows of job_groups, added by the push of a grouped job, so a
      // queue without one has none; group_leases holds the leases grouped claims took.
      statements: [
        `ALTER TABLE ${s}.jobs ADD COLUMN group_key text`,
        `ALTER TABLE ${s}.failed_jobs ADD COLUMN group_key text`,
        `CREATE INDEX jobs_group_idx ON ${s}.jobs (queue, group_key, priority, seq)`,
        `CREATE SEQUENCE ${s}.job_groups_served_seq`,
        `CREATE TABLE ${s}.job_groups (
          queue text NOT NULL,
          group_key text NOT NULL,
          served bigint NOT NULL DEFAULT 0,
          PRIMARY KEY (queue, group_key)
        )`,
        `CREATE INDEX job_groups_turn_idx ON ${s}.job_groups (queue, served, group_key)`,
        `CREATE TABLE ${s}.group_leases (
          seq bigint PRIMARY KEY,
          queue text NOT NULL,
          group_key text NOT NULL,
          token text NOT NULL
        )`,
        `CREATE INDEX group_leases_group_idx ON ${s}.group_leases (queue, group_key)`,
      ],
    },
    {
      version: 9,
      name: 'group-leases-in-lanes',
      // The leases a group's claims took move into its lane's row, as their fencing tokens: a
      // claim rewrites the rows of the lanes it serves anyway, so it records the leases at no
      // cost of its own, where a row per lease cost a write and a delete per job. The leases
      // held when this runs move along.
      statements: [
        `ALTER TABLE ${s}.job_groups ADD COLUMN leases text[] NOT NULL DEFAULT '{}'`,
        `UPDATE ${s}.job_groups g SET leases = l.tokens
          FROM (SELECT queue, group_key, array_agg(token ORDER BY seq) AS tokens FROM ${s}.group_leases GROUP BY queue, group_key) l
          WHERE g.queue = l.queue AND g.group_key = l.group_key`,
        `DROP TABLE ${s}.group_leases`,
      ],
    },
  ];
}
