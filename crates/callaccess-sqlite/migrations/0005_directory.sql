-- Gong's access world: workspaces, permission profiles, managers, and calls
-- with Gong's fields (directory.md §1).
--
-- Existing data keeps its meaning: every company gets a workspace
-- "Default", which holds all its calls, and each per-user level becomes a
-- profile of that level in it ("Calls access: <level>", the domain's
-- `legacy_profile_name`), held by the users who had the level. Old `all`
-- (every call of the company) is new `all` in the one workspace; `own`
-- and `none` mean what they meant.

CREATE TABLE workspaces (
    -- Unique across the database, like company ids (seed.md).
    id           INTEGER PRIMARY KEY,
    company_id   INTEGER NOT NULL REFERENCES companies (id),
    name         TEXT    NOT NULL,
    description  TEXT
);
CREATE INDEX workspaces_by_company ON workspaces (company_id, id);

-- Where a call without a workspace goes, and the workspace whose profile
-- the `callsAccess` shorthand reads and writes. Set for every company (the
-- first workspace it gets becomes it). No foreign key: a company is
-- written before its first workspace, which then points back at it.
ALTER TABLE companies ADD COLUMN default_workspace_id INTEGER;

CREATE TABLE permission_profiles (
    -- Unique across the database, like company ids.
    id             INTEGER PRIMARY KEY,
    company_id     INTEGER NOT NULL REFERENCES companies (id),
    -- A profile never moves to another workspace.
    workspace_id   INTEGER NOT NULL REFERENCES workspaces (id),
    -- Also in `fields`; kept here to list profiles by name.
    name           TEXT    NOT NULL,
    -- `callsAccess.permissionLevel`, the only field that decides who opens
    -- a call; copied out of `fields` so the access check never parses JSON.
    level          TEXT    NOT NULL
        CHECK (level IN ('all', 'managers-team', 'report-to-them', 'own', 'none')),
    -- `callsAccess.teamLeadIds`: user ids separated by single spaces,
    -- ascending; '' when there are none.
    team_lead_ids  TEXT    NOT NULL DEFAULT '',
    -- Every field of Gong's PermissionProfileDTO as given, `id` excepted,
    -- as a JSON object: returned as given.
    fields         TEXT    NOT NULL
);
-- listPermissionProfile: by name, case-insensitively, then id.
CREATE INDEX permission_profiles_by_name ON permission_profiles (workspace_id, lower(name), id);

-- The profile each user holds in each workspace: at most one (the key).
-- `workspace_id` is the profile's, repeated here so that the key says so.
CREATE TABLE user_profiles (
    company_id    INTEGER NOT NULL,
    user_id       INTEGER NOT NULL,
    workspace_id  INTEGER NOT NULL,
    profile_id    INTEGER NOT NULL REFERENCES permission_profiles (id),
    PRIMARY KEY (company_id, user_id, workspace_id),
    FOREIGN KEY (company_id, user_id) REFERENCES users (company_id, id)
) WITHOUT ROWID;
-- listPermissionProfileUsers: a profile's users by id.
CREATE INDEX user_profiles_by_profile ON user_profiles (profile_id, user_id);

-- The org chart: another user of the same company, or NULL. Loops are
-- refused when a manager is written (the domain's `check_manager`).
ALTER TABLE users ADD COLUMN manager_id INTEGER;
-- Gong keeps users who left: 1 active, 0 not; both can be granted.
ALTER TABLE users ADD COLUMN active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1));
-- Unix seconds. Every write gives it; the default only fills existing rows
-- for the moment, and they get this migration's time just below.
ALTER TABLE users ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
UPDATE users SET created_at = unixepoch();
ALTER TABLE users ADD COLUMN first_name TEXT;
ALTER TABLE users ADD COLUMN last_name TEXT;
ALTER TABLE users ADD COLUMN title TEXT;

-- Set for every call (NULL only until the data move below); a call
-- written without one goes to its company's default workspace.
ALTER TABLE calls ADD COLUMN workspace_id INTEGER;
-- 1: profiles open the call only for its primary user and participants;
-- grants and shares still open it.
ALTER TABLE calls ADD COLUMN is_private INTEGER NOT NULL DEFAULT 0 CHECK (is_private IN (0, 1));
-- When the call started, unix seconds (listCalls filters by it).
ALTER TABLE calls ADD COLUMN started INTEGER;
-- addCall's duplicate check: unique within the company when set.
ALTER TABLE calls ADD COLUMN client_unique_id TEXT;
-- The rest of Gong's CallBasicData, as a JSON object (the domain's
-- `CallDetails`); decides nothing.
ALTER TABLE calls ADD COLUMN details TEXT NOT NULL DEFAULT '{}';
-- The call's parties as given (a JSON array of Gong's `Party`), including
-- people who are not users. The users among them that the rules read are
-- in call_participants.
ALTER TABLE calls ADD COLUMN parties TEXT NOT NULL DEFAULT '[]';
CREATE UNIQUE INDEX calls_by_client_unique_id ON calls (company_id, client_unique_id)
    WHERE client_unique_id IS NOT NULL;
-- No index on `started`: listCalls pages by id, so a date range is read
-- along the primary key (bounded by the company's calls, never sorted).

-- The data move. Ids are random 19-digit numbers, the shape of Gong's ids.
INSERT INTO workspaces (id, company_id, name, description)
SELECT 1000000000000000000 + abs(random() % 8000000000000000000), id, 'Default', NULL
FROM companies;

UPDATE companies SET default_workspace_id =
    (SELECT w.id FROM workspaces w WHERE w.company_id = companies.id);

UPDATE calls SET workspace_id =
    (SELECT c.default_workspace_id FROM companies c WHERE c.id = calls.company_id);

INSERT INTO permission_profiles (id, company_id, workspace_id, name, level, team_lead_ids, fields)
SELECT 1000000000000000000 + abs(random() % 8000000000000000000),
       l.company_id, c.default_workspace_id, 'Calls access: ' || l.calls_access, l.calls_access, '',
       json_object('name', 'Calls access: ' || l.calls_access,
                   'callsAccess', json_object('permissionLevel', l.calls_access,
                                              'teamLeadIds', json_array()))
FROM (SELECT DISTINCT company_id, calls_access FROM users) l
JOIN companies c ON c.id = l.company_id;

INSERT INTO user_profiles (company_id, user_id, workspace_id, profile_id)
SELECT u.company_id, u.id, p.workspace_id, p.id
FROM users u
JOIN companies c ON c.id = u.company_id
JOIN permission_profiles p ON p.workspace_id = c.default_workspace_id AND p.level = u.calls_access;

-- The level now lives in the profiles (its CHECK goes with the column).
ALTER TABLE users DROP COLUMN calls_access;
