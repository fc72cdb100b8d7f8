"""Personas: a simulated listener's description, history, taste profile and recommendations.
Likes and dislikes change the profile and the list at once, and are saved under this browser's
profile (the ``?profile=`` token in the address), so they are still there after a reload."""
from __future__ import annotations

import streamlit as st

from recsys.errors import RecsysError
from recsys.understanding.label_key import LabelKey
from recsys.understanding.label_scoring import label_names
from recsys.users.personas import load_personas
from ui import cache, routing, state
from ui.components import esc, feedback_summary, player, rec_cards, taste_figure
from ui.state import Source

routing.through_app()  # a link that is a fresh server's first request ran this file alone

fp, service = state.service()
cat = service.catalog
ss = st.session_state
personas = {p.name: p for p in load_personas()}
st.title("Personas")
st.caption("Each persona is a taste profile; the demo users the recommender is trained on are simulated from "
           "them. Pick one, listen to its history, and rate its recommendations.")

linked = state.from_address("personas", state.PERSONA_PARAM, personas)  # a reload or a shared link: ?persona=<name>
if linked is not None:
    ss.focus = Source("persona", linked)
    ss.pop("persona_name", None)  # the picker starts from the link, not from its last value
focus = ss.focus
default = focus.ident if focus and focus.kind == "persona" and focus.ident in personas else next(iter(personas))
name = st.selectbox("Persona", list(personas), index=list(personas).index(default), key="persona_name")
persona = personas[name]
source = Source("persona", name)
scope = source.scope
ss.focus = source
state.keep_address("personas", **{state.PERSONA_PARAM: name})
fb = state.feedback(scope)
titles = dict(zip(cat.item_ids, cat.items["title"]))

st.markdown(esc(persona.description))
pref = ", ".join(f"{k} {v:.0%}" for k, v in persona.kind_preference.items())
st.caption(f"Likes: {esc(', '.join(LabelKey.parse(x).display for x in persona.liked_labels))}. "
           f"Kind preference: {pref}.")

try:
    query, cs = state.scores_for(service, source)
except RecsysError as err:
    st.error(esc(str(err)))
    st.stop()

left, right = st.columns([1, 1], gap="large")
with left:
    st.subheader("Taste profile")
    if query.label_scores is not None:
        st.plotly_chart(taste_figure(query.label_scores, label_names()), width="stretch",
                        config={"displayModeBar": False}, key="persona_taste")
    st.caption("The persona's liked labels blended with the labels of its history (updates with your ratings).")
with right:
    st.subheader("History")
    seeds = service.persona_seeds(persona)
    history = [(i, "seed") for i in seeds if i not in fb["disliked"]] + [(i, "you liked") for i in fb["liked"]]
    for item_id, why in history:
        with st.container(border=True):
            st.markdown(f"**{esc(titles.get(item_id, item_id))}** :gray[({why})]")
            player(cache.item_preview(fp, item_id))

st.subheader("Recommendations")
st.caption("Your ratings are saved under this page's address (its `profile` token): bookmark it to come back "
           "to them. Only someone with that address sees them.")
feedback_summary(fb, titles, scope=scope, on_feedback=state.set_feedback, key="persona")
recs = service.rank(query, cs, state.weights(), k=10)
rec_cards(recs, preview_of=lambda i: cache.item_preview(fp, i), picture_of=lambda i: cache.item_picture(fp, i),
          scope=scope, on_feedback=state.set_feedback, key="persona")
