-- Gong's access world: workspaces, permission profiles, managers, and calls
-- with the fields Gong's call operations return (directory.md §1).
--
-- The same tables, columns and meanings as the SQLite backend's
-- 0005_directory.sql. Existing data keeps its meaning: every company gets a
-- workspace "Default" holding all its calls, and each level a user had
-- becomes a profile of that level there, named "Calls access: <level>"
-- (callaccess_domain::model::legacy_profile_name), which the user holds. The
-- old levels all, own and none mean in one workspace what they meant in the
-- whole company.

-- A part of a company with its own calls and profiles. Ids are unique across
-- the database, like company ids.
CREATE TABLE workspaces (
    id           BIGINT PRIMARY KEY,
    company_id   BIGINT NOT NULL REFERENCES companies (id),
    name         TEXT   NOT NULL,
    description  TEXT
);
-- The company's workspaces by id (listWorkspaces), and the target of the
-- (company_id, workspace_id) foreign keys below, which keep every
-- workspace reference inside its company.
CREATE UNIQUE INDEX workspaces_by_company ON workspaces (company_id, id);

-- Where a call without a workspace goes; the first workspace a company gets
-- becomes it. Set for every company (creating a company creates one).
ALTER TABLE companies ADD COLUMN default_workspace_id BIGINT;
ALTER TABLE companies ADD CONSTRAINT companies_default_workspace
    FOREIGN KEY (id, default_workspace_id) REFERENCES workspaces (company_id, id);

-- Gong's PermissionProfileDTO, one workspace's. Only callsAccess decides who
-- opens calls; it is kept parsed in `level` and `team_lead_ids` for the
-- rules, and in `fields` with everything else, as given.
CREATE TABLE permission_profiles (
    id             BIGINT PRIMARY KEY,
    company_id     BIGINT NOT NULL,
    workspace_id   BIGINT NOT NULL,
    name           TEXT   NOT NULL,
    -- callsAccess.permissionLevel.
    level          TEXT   NOT NULL
        CHECK (level IN ('all', 'managers-team', 'report-to-them', 'own', 'none')),
    -- callsAccess.teamLeadIds: user ids of the company, ascending, each once,
    -- separated by single spaces; '' for none.
    team_lead_ids  TEXT   NOT NULL DEFAULT '',
    -- Every field of the profile as it was given, `id` excepted (the store
    -- owns ids): a JSON object, returned as given.
    fields         TEXT   NOT NULL,
    FOREIGN KEY (company_id, workspace_id) REFERENCES workspaces (company_id, id)
);
-- listPermissionProfile: a workspace's profiles by name, case-insensitively,
-- then by id.
CREATE INDEX permission_profiles_by_name
    ON permission_profiles (workspace_id, lower(name), id);

-- The profile each user holds in a workspace: at most one per workspace
-- (the key). `workspace_id` is the profile's own workspace, repeated here so
-- that the key can say so.
CREATE TABLE user_profiles (
    company_id    BIGINT NOT NULL,
    user_id       BIGINT NOT NULL,
    workspace_id  BIGINT NOT NULL,
    profile_id    BIGINT NOT NULL REFERENCES permission_profiles (id),
    PRIMARY KEY (company_id, user_id, workspace_id),
    FOREIGN KEY (company_id, user_id) REFERENCES users (company_id, id)
);
-- listPermissionProfileUsers: a profile's users by id.
CREATE INDEX user_profiles_by_profile ON user_profiles (profile_id, user_id);

-- Users: the org chart, and the fields of Gong's user operations.
ALTER TABLE users
    -- Another user of the company, or NULL; the rules walk this chain
    -- upwards, a loop is refused when it is written.
    ADD COLUMN manager_id  BIGINT,
    -- Gong keeps users who left; they can be granted and listed alike.
    ADD COLUMN active      BOOLEAN NOT NULL DEFAULT true,
    -- Unix seconds; the users that exist now were created, as far as
    -- anyone knows, when this migration ran.
    ADD COLUMN created_at  BIGINT  NOT NULL DEFAULT extract(epoch FROM now())::BIGINT,
    ADD COLUMN first_name  TEXT,
    ADD COLUMN last_name   TEXT,
    ADD COLUMN title       TEXT,
    ADD CONSTRAINT users_manager
        FOREIGN KEY (company_id, manager_id) REFERENCES users (company_id, id);
-- Every write says when a user was created; the default was for the rows
-- above.
ALTER TABLE users ALTER COLUMN created_at DROP DEFAULT;

-- Calls: their workspace, privacy, and what Gong's call operations return.
ALTER TABLE calls
    ADD COLUMN workspace_id      BIGINT,
    -- Closed to profile routes except for the call's own parties.
    ADD COLUMN is_private        BOOLEAN NOT NULL DEFAULT false,
    -- When the call started (Gong's `started`), unix seconds.
    ADD COLUMN started           BIGINT,
    -- addCall's clientUniqueId: unique within the company where set.
    ADD COLUMN client_unique_id  TEXT,
    -- The rest of Gong's CallBasicData the service keeps
    -- (callaccess_domain::model::CallDetails), as a JSON object.
    ADD COLUMN details           TEXT NOT NULL DEFAULT '{}',
    -- The call's parties as given (Gong's Party shapes, users or not), as a
    -- JSON array. The rules read participants from call_participants.
    ADD COLUMN parties           TEXT NOT NULL DEFAULT '[]',
    ADD CONSTRAINT calls_workspace
        FOREIGN KEY (company_id, workspace_id) REFERENCES workspaces (company_id, id);
CREATE UNIQUE INDEX calls_by_client_unique_id
    ON calls (company_id, client_unique_id) WHERE client_unique_id IS NOT NULL;
-- listCalls by date (fromDateTime, toDateTime).
CREATE INDEX calls_by_started ON calls (company_id, started, id);

-- The data move. Random 19-digit ids, the shape Gong's own ids have.
INSERT INTO workspaces (id, company_id, name)
SELECT 1000000000000000000 + floor(random() * 8000000000000000000)::BIGINT, id, 'Default'
  FROM companies;
UPDATE companies
   SET default_workspace_id = w.id
  FROM workspaces w
 WHERE w.company_id = companies.id;
UPDATE calls
   SET workspace_id = c.default_workspace_id
  FROM companies c
 WHERE c.id = calls.company_id;
-- Every call is in a workspace from now on.
ALTER TABLE calls ALTER COLUMN workspace_id SET NOT NULL;

INSERT INTO permission_profiles (id, company_id, workspace_id, name, level, fields)
SELECT 1000000000000000000 + floor(random() * 8000000000000000000)::BIGINT,
       held.company_id, c.default_workspace_id, 'Calls access: ' || held.level, held.level,
       json_build_object(
           'name', 'Calls access: ' || held.level,
           'callsAccess', json_build_object(
               'permissionLevel', held.level,
               'teamLeadIds', json_build_array()))::TEXT
  FROM (SELECT DISTINCT company_id, calls_access AS level FROM users) AS held
  JOIN companies c ON c.id = held.company_id;
INSERT INTO user_profiles (company_id, user_id, workspace_id, profile_id)
SELECT u.company_id, u.id, p.workspace_id, p.id
  FROM users u
  JOIN permission_profiles p
    ON p.company_id = u.company_id AND p.name = 'Calls access: ' || u.calls_access;

-- The levels live in profiles now.
ALTER TABLE users DROP COLUMN calls_access;
