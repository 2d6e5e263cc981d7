-- Every message write of one event-loop turn, in one statement: one round trip and one commit per turn
-- (writes.py). Each item is a visitor's or a counsellor's message; the answer has one row per item, by `n`.
-- Chats are locked in id order (the advisory lock every action on a chat takes), so two turns cannot
-- deadlock; a chat that refuses an item (closed, not this counsellor's, moved on since the bot decided)
-- is checked before anything of that item is written, so a refusal leaves the turn's other items be.
CREATE OR REPLACE FUNCTION handoff_turn(items jsonb) RETURNS SETOF jsonb LANGUAGE plpgsql AS $$
DECLARE
    item jsonb;
    chat record;
    chat_id bigint;
    language text;
    after_id bigint;
    after_visible bigint;
    new_id bigint;
    ids bigint[];
    stamp timestamp;
    bot jsonb;
BEGIN
    FOR item IN
        SELECT x.value || jsonb_build_object('n', x.n - 1, 'chat', coalesce((x.value->>'chat')::bigint, c.id))
        FROM jsonb_array_elements(items) WITH ORDINALITY AS x(value, n)
        LEFT JOIN chatsession c ON c.token = x.value->>'token'
        ORDER BY coalesce((x.value->>'chat')::bigint, c.id), x.n
    LOOP
        chat_id := (item->>'chat')::bigint;
        IF chat_id IS NULL THEN
            RETURN NEXT jsonb_build_object('n', item->'n', 'refused', 'expired');
            CONTINUE;
        END IF;
        PERFORM pg_advisory_xact_lock(chat_id);
        -- The chat and its newest ids (all of its messages, then those the visitor sees) in one statement.
        SELECT c.status, c.agent_id, c.joined_by_id, c.language,
               (SELECT max(m.id) FROM message m WHERE m.session_id = chat_id) AS after_id,
               (SELECT m.id FROM message m WHERE m.session_id = chat_id AND NOT m.internal
                ORDER BY m.id DESC LIMIT 1) AS after_visible
            INTO chat FROM chatsession c WHERE c.id = chat_id;
        IF NOT FOUND THEN
            RETURN NEXT jsonb_build_object('n', item->'n', 'refused', 'expired');
            CONTINUE;
        END IF;
        stamp := (item->>'at')::timestamp;
        language := chat.language;
        IF item->>'kind' = 'visitor' THEN
            IF chat.status = 'closed' THEN
                RETURN NEXT jsonb_build_object('n', item->'n', 'refused', 'closed', 'language', language);
                CONTINUE;
            END IF;
            IF item->>'spoken' IS NOT NULL AND item->>'spoken' IS DISTINCT FROM language THEN
                language := item->>'spoken';
                UPDATE chatsession SET language = item->>'spoken' WHERE id = chat_id;
            END IF;
        ELSIF chat.status <> 'assigned' OR ((item->>'agent')::bigint IS DISTINCT FROM chat.agent_id
                AND (item->>'agent')::bigint IS DISTINCT FROM chat.joined_by_id) THEN
            RETURN NEXT jsonb_build_object('n', item->'n', 'refused', 'not yours');
            CONTINUE;
        END IF;
        after_id := chat.after_id;
        after_visible := chat.after_visible;
        bot := item->'bot';
        -- While the bot has the chat, the bot's answer must be one decided on the chat as it is now.
        IF item->>'kind' = 'visitor' AND chat.status = 'bot' AND (bot IS NULL OR item->>'upto' IS NULL
                OR (item->>'upto')::bigint IS DISTINCT FROM coalesce(after_id, 0)
                OR item->>'language' IS DISTINCT FROM language) THEN
            RETURN NEXT jsonb_build_object('n', item->'n', 'refused', 'stale', 'language', language, 'status', 'bot');
            CONTINUE;
        END IF;
        IF item->>'kind' <> 'visitor' OR chat.status <> 'bot' THEN
            bot := NULL;  -- the bot's decision counts only while the bot has the chat
        END IF;
        INSERT INTO message (session_id, sender, agent_id, text, created_at, client_key, internal, confidence,
                             handoff, reason, entry, choices)
            VALUES (chat_id, item->>'kind', (item->>'agent')::bigint, item->>'text', stamp, item->>'key',
                    coalesce((item->>'internal')::boolean, false), (bot->>'confidence')::double precision,
                    (bot->>'handoff')::boolean, bot->>'reason', NULL, NULL)
            ON CONFLICT DO NOTHING RETURNING id INTO new_id;
        IF new_id IS NULL THEN  -- a repeated client key: the message stored the first time
            RETURN NEXT jsonb_build_object('n', item->'n', 'chat', chat_id, 'agent', chat.agent_id,
                'joined', chat.joined_by_id, 'language', language, 'existing',
                (SELECT to_jsonb(m) FROM message m WHERE m.session_id = chat_id AND m.client_key = item->>'key'));
            CONTINUE;
        END IF;
        ids := ARRAY[new_id];
        IF item->>'kind' = 'visitor' THEN
            UPDATE chatsession SET last_visitor_at = stamp, visitor_typing_at = NULL WHERE id = chat_id;
            IF bot->>'reply' IS NOT NULL THEN
                INSERT INTO message (session_id, sender, text, created_at, internal, confidence, entry, choices, offer)
                    VALUES (chat_id, 'bot', bot->>'reply', stamp, false, (bot->>'confidence')::double precision,
                            bot->>'entry', bot->>'choices', (bot->>'offer')::boolean)
                    RETURNING id INTO new_id;
                ids := ids || new_id;
            END IF;
        ELSIF (item->>'internal')::boolean THEN
            INSERT INTO agentsession (session_id, agent_id, action, note, created_at)
                VALUES (chat_id, (item->>'agent')::bigint, 'note', item->>'text', stamp);
        ELSE
            UPDATE chatsession SET agent_typing_at = NULL, first_response_at = coalesce(first_response_at, stamp)
                WHERE id = chat_id;
        END IF;
        RETURN NEXT jsonb_build_object('n', item->'n', 'chat', chat_id, 'agent', chat.agent_id,
            'joined', chat.joined_by_id, 'language', language,
            'status', chat.status, 'after', coalesce(after_id, 0), 'after_visible', coalesce(after_visible, 0), 'ids', to_jsonb(ids));
    END LOOP;
END
$$;
