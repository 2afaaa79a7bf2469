"""Tests for the deterministic symptom triage (clinic_core/triage.py).

Emergency recall must be 100%: every emergency phrasing below is asserted on
its own, and a summary test computes recall and the false-alarm rate.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from clinic_core import triage
from clinic_core.triage import SEVERITIES, Assessment, RulesError, assess, load_rules, reason

RULES_FILE = Path(__file__).resolve().parent.parent / "clinic" / "triage-rules.yml"


def _slug(text: str) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return "-".join(words[:7]) or "blank"


def _cases(prefix: str, texts: list[str]) -> list:
    return [pytest.param(t, id=f"{prefix}{i:02d}-{_slug(t)}") for i, t in enumerate(texts, 1)]


def _pairs(prefix: str, pairs: list[tuple[str, str]]) -> list:
    return [
        pytest.param(t, s, id=f"{prefix}{i:02d}-{_slug(t)}") for i, (t, s) in enumerate(pairs, 1)
    ]


# ---------------------------------------------------------------------------
# Emergency reports: toxin spread or severe allergic reaction.
# ---------------------------------------------------------------------------

EMERGENCY = [
    "no es broma, se me hinchan los labios",
    # emergencies of any cause (fifteenth session): seizure, overdose, self-harm
    "i think im having a seizure",
    "i took too many pills",
    "i want to kill myself",
    "I keep seeing two of everything",
    # what is drunk comes back out; seeing two of something, in lay words
    "I tried to drink some water and it keeps dribbling out",
    "the TV looks like there are two of them since my botox",
    # the treatment's action in the patient's own muscles is a symptom
    "it makes the muscles in my arms weak",
    "it made my muscles weak all over",
    "it make the muscle weak, now i cant hold my head up",
    "the botox make the muscle weak since yesterday, im scared",
    # stroke signs (the safety issue: a sudden worst-ever headache is an emergency)
    "worst headache of my life",
    "a sudden explosive headache came on a minute ago",
    "one side of my face is drooping and my arm feels weak",
    # Spanish red flags (languages.es in the rules file)
    "no puedo respirar bien desde esta mañana",
    "se me esta hinchando la lengua",
    "veo doble desde ayer",
    # coughing or spluttering on what goes down (aspiration)
    "I splutter every time I swallow my tea since the jabs",
    "water makes me cough now, every single glass",
    "coughing whenever I eat since yesterday, is that a side effect?",
    # others cannot make out what the patient says
    "since lunch my friends can't understand what I'm saying",
    "nobody can make out a word i say since the jabs",
    "since lunch my words are mush when I talk on the phone",
    # an age-like "when I was ..." is not history of a current sign
    "when I was 5 minutes out of the clinic my throat started closing",
    "i had botox when I was 19, now my throat is tight",
    # "now" ends a hypothetical frame before the patient's own sign
    "what if i bruise, and now my lips are swelling",
    "scared of getting bruises and now my lips are swelling",
    # a reason, an aside or "already" ends a question or hypothetical frame
    "does it cause headaches cause i cant swallow",
    "just wondering does botox affect swallowing as i am struggling to swallow today",
    "to avoid bruising what do i do, also my throat is closing up",
    "what if the bruise spreads, my eyelid is already drooping and i see double",
    "in case it matters my lips are puffing up",
    # found by probing the frames (seventh session): a negation of something
    # else, "is normal?", "gone all fuzzy", asking what to do or to be
    # called, a contrast after someone else, "this time" after history
    "No joke my lips are swelling",
    "For no apparent reason my face is swelling",
    "My throat is tight, is normal?",
    "My throat feels tight, no issue with breathing yet",
    "my eyesight is blurry, gone all fuzzy since lunch",
    "What do I do, can't breathe properly",
    "Can someone call me back, throat closing",
    "The nurse said swelling is normal but the lips are huge now",
    "i usually get headaches after botox this time my throat is closing",
    "breath is short since the botox",
    "my arms have no strength since this morning",
    "Should I go to A&E lips and tongue swelling?",
    "cant swllow since the jabs",
    "my face become very big after injection",
    # a sign described as a present state inside a question is the patient's own
    "Is it normal that swallowing is hard after botox",
    # "oh no" is not a negation of what follows (review of the frame fixes)
    "oh no the lips are swelling so fast",
    "oh no the throat feels tight",
    "Oh no it's getting hard to breathe",
    # breathing
    "I can't breathe",
    "cant breath",
    "i cnt breathe properly",
    "I can barely breathe since the injections",
    "having difficulty breathing after botox",
    "breathing is hard",
    "brething is so hard rn",
    "breathing feels weird and tight",
    "short of breath after my botox yesterday",
    "I'm so out of breath just sitting here",
    "gasping for air",
    "I can't catch my breath",
    "struggling to breathe 😭😭",
    "had botox yesterday and now I have hives and I'm wheezing",
    "No, I can't breathe",
    "help cant breathe",
    "I had no issues until today, now I cant breathe properly",
    # swallowing
    "after my botox yesterday I'm struggling to swallow",
    "its hard to swollow since this morning",
    "swollowing is really hard",
    "hard to swallow",
    "I'm not able to swallow",
    "i keep choking on my drinks",
    "I can't eat without choking",
    "water comes out of my nose when I drink",
    "food going down the wrong way all the time since botox",
    "botox yesterday. cant swallow. help",
    "Is it normal that I can't swallow properly?",
    "hi, i had botox on monday. since then i've been having trouble swallowing food and it "
    "feels like it gets stuck. is this something to worry about?",
    "i think it spread, I can't swallow my own spit",
    # chest, throat
    "chest feels really tight",
    "my chest is tight and I'm wheezing",
    "my throat feels tight",
    "throat is closing up!!",
    "throat feels like its closing",
    "i've got a lump in my throat and can't swallow right",
    "no rash but my throat is closing up",
    # swelling of face, lips, tongue, throat
    "my lips blew up after the treatment",
    "tongue swelling, what do I do?",
    "my tongue feels thick",
    "my face is swelling up",
    "my eyes are swollen shut",
    "My eyelids are puffy and swollen",
    "my mouth is swollen",
    "SWOLLEN LIPS AND TONGUE",
    "lips and tongue are swelling",
    "lips are huge and tingling",
    "my lips are swelling, is that normal?",
    "lips swelling, is it normal?",
    "can't swallow, could it be the botox?",
    "had botox yesterday and my lips are swelling, is that normal?",
    "I think I'm having an allergic reaction, my face is puffy",
    # vision
    "seeing double since the injections",
    "double vision",
    "my vision is blurry and I had botox 2 days ago",
    "everything looks blurry",
    "I can't see properly, everything is double",
    "cant focus my eyes",
    # speech and voice
    "my words are coming out slurred",
    "speech is slurred",
    "I'm slurring my words",
    "My husband says I'm slurring my words",
    "I sound drunk when I talk",
    "can't speak properly",
    "my voice has gone hoarse",
    "voice gone hoarse",
    "my voice sounds different and raspy",
    "lost my voice since the botox",
    # generalised weakness
    "my arms feel weak",
    "i cant hold my head up",
    "my whole body feels weak",
    "legs are so weak I can barely stand",
    "the whole right side of my body feels weak",
    "i feel so weak all over",
    "I woke up and my neck is so weak I can't lift my head",
    # bladder
    "I keep peeing myself since the botox",
    "I can't control my bladder",
    "peeing myself",
    # fainting
    "I passed out this morning after botox",
    "I fainted",
    "I feel like I'm going to faint",
    "collapsed in the kitchen an hour ago",
    "blacked out for a second",
    "feel faint and dizzy",
    # mixed
    "I don't have a fever but I'm short of breath",
    "My botox was 3 days ago. Now my eyelid is drooping and I'm seeing double",
    "hives all over and my chest feels tight",
    "I CAN’T BREATHE",
    "is it bad that I can't breathe properly since my botox?",
    "this is an emergency, my throat is swelling",
    "I'm having an allergic reaction after my botox",
    "please call an ambulance",
    # long-winded, hedged, or mixed with other text
    "Hi! So I had my first botox session last Thursday, forehead and between the brows. "
    "Everything was great at first, a tiny bit of bruising which is gone now. But this "
    "morning my voice sounds really weird, kind of hoarse. Should I wait?",
    "Not sure who to ask. I had botox for my neck bands 2 days ago and now drinking "
    "water makes me cough and choke",
    "Sorry for the long message... I had botox on Monday (my 3rd time, never had issues "
    "before). Today my eyelids feel heavy, and I'm seeing double when I look at my phone.",
    "lol this is probably nothing but my lips are kinda swelling",
    "I'm fine except I can't really swallow",
    "everything's fine apart from the fact that my throat feels tight",
    "not a big deal but my tongue feels swollen",
    "Hey, no rush, but since this morning it's been hard to breathe",
    "my throat is kinda closing?? idk",
    "im ok but breathing is a bit hard",
    "Dont know if its normal but cant swallow",
    "idk whats going on, cant catch my breath",
    "the bruising is fine, the problem is I keep choking on food",
    "I'm breathing ok but my lips are huge",
    "No. My tongue is swollen.",
    "nothing helps, still can't breathe properly",
    "I'm not sure if my throat is closing",
    "is it normal for my lips to be this swollen?",
    "why can't I swallow properly?",
    "how long will this trouble swallowing last?",
    "should I go to the ER? my throat feels tight",
    "will i be ok? cant breathe",
    "Is trouble swallowing a side effect? because I have it now",
    # more typos, slang and short forms
    "i cant brethe",
    "its hard 2 breathe",
    "can hardly breathe",
    "i feel breathless since having botox this morning",
    "breathing difficulties",
    "im wheezy",
    "swallowing feels weird",
    "drinks keep going down the wrong pipe",
    "fluids coming out my nose when i drink",
    "lips swelled up",
    "lips got really big",
    "my lips have doubled in size",
    "my tongue is getting bigger",
    "there's swelling in my throat",
    "woke up with my eyes all puffy, got botox done yesterday afternoon",
    "i'm talking funny",
    "talking is hard",
    "my speech sounds weird",
    "im hoarse",
    "voice went raspy",
    "my eyesight is fuzzy",
    "im seeing two of everything",
    "my eyes won't focus",
    "my legs feel like jelly",
    "weak legs",
    "my head keeps dropping forward",
    "i pee'd myself",
    "i nearly passed out",
    "my chest hurts",
    "pressure on my chest",
    "I haven't been able to swallow since yesterday",
    "I've not been able to breathe properly",
    "never been this short of breath",
    "I can't breathe ok??",
    "cant breath, its not ok",
]

# ---------------------------------------------------------------------------
# Urgent reports: unusual, severe or worsening, not an emergency.
# ---------------------------------------------------------------------------

URGENT = [
    # a question about getting care is still a report
    "pus and a fever after the jabs, how soon do i need to be seen?",
    # rash / hives without breathing trouble
    "I have a rash spreading across my forehead",
    "itchy welts on my neck",
    "I've got hives on my arms but I'm breathing fine",
    "small red bumps on my forehead and all over my chest and arms",
    # worsening said the other way round, or as a size
    "the pain in my forehead, every day worse",
    "the red spot by my eyebrow has doubled in size overnight",
    # unusual for this patient
    "headache since the jabs, I've never had one last this long",
    # Spanish: a hot lump, very painful
    "tengo un bulto en la frente y esta caliente",
    "la zona esta muy dolorosa desde ayer",
    "hives on my face, no trouble breathing",
    # fever
    "I have a fever since the botox",
    "running a temperature of 38.5",
    "I've got chills",
    "I've got a temperature and the area is throbbing",
    # severe pain
    "the pain is unbearable",
    "severe pain at the injection site",
    "the pain is getting worse every day",
    "I have an awful headache",
    "I have a terrible headache",
    # infection
    "the injection site is hot to the touch",
    "there's pus coming out of one of the injection spots",
    "it's oozing yellow fluid",
    "the redness is spreading",
    "my forehead is red and warm",
    "red streaks coming from the injection site",
    # droop
    "my eyelid is drooping",
    "my eyebrow has dropped",
    "my mouth is drooping on one side",
    "my face is drooping",
    "my eyelid is hanging lower than the other",
    "my eye is drooping and heavy",
    "I can't open my eye all the way",
    "I can't close my eye fully",
    "my smile is crooked since the botox",
    "I've been drooling since the lip flip",
    "my eyelid droop is getting worse",
    "slight droop in my brow but it's been 4 weeks",
    # headache lasting / worsening
    "I've had a headache for 3 weeks now",
    "headache getting worse every day",
    "headache getting worse",
    # worsening expected symptoms
    "the bruise is getting bigger",
    "the swelling is getting worse",
    "the swelling on my forehead is spreading",
    "bruising still there after 5 weeks",
    "in 3 weeks and still bruised",
    "im in 3 weeks and my eyelid is still droopy",
    "I was in 3 weeks ago and im still bruised",
    "my lips in 3 weeks and still swollen",
    "my forehead is really swollen and painful and getting worse",
    "it's getting worse",
    # unusual / severe / other
    "my forehead feels weird",
    "my skin looks really strange where they injected",
    "I feel really strange",
    "I feel dizzy",
    "I threw up twice",
    "the bleeding won't stop",
    "my eyes are so dry",
    "I have a fever of 39",
    "i feel hot and shivery",
    "the area is warm and swollen",
    "the bruise is huge and very painful",
    "I'm in so much pain",
    "i've got a pounding headache since my injections this morning",
    "my eyelid won't open fully",
    "i'm having trouble keeping my eye closed since my botox",
    "my smile has gone wonky since i had the injections",
    "i can't smile properly on the right side since botox",
    "my lips feel weak and i'm dribbling when i drink since the lip flip",
    "my eye looks smaller on one side since my treatment last week",
    "bruise is bigger today",
    "small bruise that's spreading",
    "the headache won't go away, it's been a month",
    "my eyelid has been slightly droopy for a month",
    "my face feels stiff and strange, like it's not mine",
    "something is seriously wrong",
]

# ---------------------------------------------------------------------------
# Expected reports: mild side effects the article describes as common.
# ---------------------------------------------------------------------------

EXPECTED = [
    "a bit of bruising on my forehead",
    # An event ahead is no lasting sign: not escalated as one.
    "my wedding is in 3 weeks and my forehead is a bit bruised",
    "the photos are in a few weeks and there's a small bruise on my brow",
    "eyebrows a tad heavy since wednesday",
    "I have a small bruise where they injected",
    "bruised a little between my eyebrows",
    "bruise on my crow's feet area",
    "black and blue mark near my eyebrow",
    "a couple of small bruises, no swelling at all",
    "bruising, is that normal?",
    "I have a bruise is that normal?",
    "Is it normal that my forehead is a bit bruised?",
    "bit sore where the needle went in",
    "injection sites are a little tender",
    "it stings a bit where they injected",
    "my forehead aches a little",
    "mild soreness at the injection site",
    "the injection spots are a little sore",
    "the spot where they injected is tender to touch",
    "I'm breathing fine, just sore where they injected",
    "I have a mild headache since yesterday",
    "slight headache after my botox this morning",
    "I had botox today and have a slight headache",
    "head hurts a little since the injections",
    "headache since my botox yesterday",
    "some swelling at the injection site",
    "small bumps where the needles went in",
    "tiny bump at the injection site",
    "forehead is a bit swollen",
    "slight swelling between my brows",
    "my forehead is a bit red",
    "little red marks on my forehead",
    "some redness right after the injections",
    "no swelling, just a few tiny red dots",
    "my eyelid is slightly droopy",
    "a little droop in my left brow, started yesterday",
    "my forehead feels tight",
    "my forehead feels heavy",
    "my forehead feels a bit stiff",
    "i can't frown anymore lol",
    "can't move my forehead, is that normal?",
    "it bled a tiny bit after",
    "a tiny spot of blood where the needle went in",
    "pinprick marks still visible",
    "no trouble breathing, just a little bruise",
    "I have no fever, just a bit of soreness",
    "just a small bruise",
    "bit of a headache",
    "my head aches",
    "my head has been aching since the injections, is this normal?",
    "little bit swollen where they injected",
    "mild redness",
    "tender spots",
    "my brow is slightly lower",
    "my chin is swollen and sore after botox there",
    "brusing around my eyes after botox yesterday, bit worried",
    "my skin is discoloured where i bruised after the shots",
    "I bled a bit at the injection site",
    "Is it normal that my forehead is heavy?",
    "hi, my forehead feels heavy and i cant raise my brows",
]

# ---------------------------------------------------------------------------
# Unclear reports: a symptom we cannot place. Never "expected".
# ---------------------------------------------------------------------------

UNCLEAR = [
    "my face feels funny",
    "something's off with my eye",
    "my eye keeps twitching",
    "my cheek feels numb",
    "I have a lump on my forehead",
    "my eye hurts",
    "one eyebrow is higher than the other",
    "I feel a bit off",
    "my lips feel tingly",
    "I have a bruise and my eye feels funny",
    "my ear is ringing",
    "I feel unwell",
    "my eye keeps watering since i had botox near it",
    "I've got a cold sore",
    "my face is uneven since the botox",
    "i've got a spock brow on one side since my botox",
    "I've got pins and needles in my cheek",
]

# ---------------------------------------------------------------------------
# Not reports: questions, hypotheticals, third parties, negations, chit-chat.
# Each is (text, whether an emergency sign is mentioned).
# ---------------------------------------------------------------------------

FAQ = [
    ("can botox cause trouble swallowing?", True),
    # The treatment's action described without a modal: not a symptom.
    ("so it make the muscle weak, or it fills the wrinkle?", True),
    ("the treatment makes the muscles weak so the lines relax, right?", True),
    ("is it normal to bruise after botox?", False),
    ("how long do headaches last after botox", False),
    ("does botox cause drooping eyelids?", False),
    ("what are the side effects of botox?", False),
    ("can botox make it hard to breathe?", True),
    ("is double vision a side effect of botox?", True),
    ("how common is bruising after botox", False),
    ("will I have swelling after the treatment?", False),
    ("can I get a headache from botox?", False),
    ("is it possible to have an allergic reaction to botox?", True),
    ("how long does swelling last?", False),
    ("Can botox spread and cause muscle weakness?", True),
    ("Is hoarseness a common side effect?", True),
    ("I have a quick question, can botox cause trouble swallowing?", True),
    ("I was wondering if botox can cause breathing problems", True),
    ("someone told me botox can cause double vision", True),
    ("I read that botox can cause trouble swallowing, is that true?", True),
    ("Is bruising after botox normal?", False),
    ("normal to have some swelling after botox?", False),
    ("I want a lip flip, does it make it hard to drink from a straw?", False),
    ("Can Botox cause blurred vision or drooping eyelids?", True),
    ("Are there any risks like breathing problems?", True),
    ("I heard botox can cause trouble swallowing", True),
    ("read online it can spread and make your brow sag, how does that even happen", False),
    ("How long does a droopy eyelid last?", False),
    ("what should i expect after botox, any swelling or bruising?", False),
]

HYPOTHETICAL = [
    ("if i get a rash now what do i do", False),
    ("what if i get a rash because i am allergic to eggs", False),
    ("breathing is fine, is bruising normal?", False),
    ("can it make it hard to breathe?", True),
    # negated, resolved, hearsay or general (review of the frame fixes)
    ("None of my face is swollen", False),
    ("Nothing in my throat feels tight", False),
    ("I haven't noticed my lips swelling", False),
    ("It doesn't make me short of breath", False),
    ("My lip swelling went down really fast", False),
    ("the lip swelling is gone?", False),
    ("No swelling today or trouble breathing", False),
    ("I heard that swallowing is hard after neck botox, is that true?", True),
    ("Should I be worried about trouble swallowing after botox?", True),
    ("Can I take antihistamines for swollen lips after botox?", True),
    ("What should I do if I also get swelling in my throat?", True),
    ("If I have already had trouble swallowing with botox before, can I still get it?", True),
    ("is tongue swelling a side effect of botox?", True),
    ("swallowing is normal?", False),
    ("my sister had it done but she is fine, can I book too", False),
    ("can you call me to book a consultation", False),
    ("what if it spreads to my throat also how long does it last", False),
    ("what should i do if my lips swell, also how much is it", True),
    ("in case my eyelid droops what do i do", False),
    ("what if i cant breathe", True),
    ("what if I can't breathe after", True),
    ("what happens if my eyelid droops", False),
    ("should I worry if I get a headache", False),
    ("If I get a rash, should I call you?", False),
    ("what if my throat feels tight after the treatment?", True),
    ("I'm scared of getting a droopy eyelid", False),
    ("in case I have trouble swallowing, who do I call?", True),
    ("how do I know if I'm having an allergic reaction?", True),
    ("what should I do if my lips swell after botox?", True),
    ("What would happen if I passed out after botox?", True),
    ("I'm worried about getting headaches after botox", False),
    ("how can I avoid bruising before my appointment", False),
    ("what are the signs of the toxin spreading?", False),
    ("I'm worried I might get double vision", True),
    ("If my throat closes up, do I call 911?", True),
    ("if my eyelid droops how long before it goes back to normal", False),
    ("should i go straight to hospital if i struggle to breathe after", True),
    ("can botox make my eyelid droop", False),
    ("would it give me a migraine the first time i have it", False),
    ("i bruise really easily, will botox bruise me", False),
    ("chances of droopy face after botox?", False),
    ("droopy eyelid risk?", False),
    ("can i have botox if i've got a skin infection on my face", False),
]

THIRD_PARTY = [
    ("my friend bruised after her botox", False),
    ("my sister's eyelid is drooping", False),
    ("my mom had trouble swallowing after her botox", True),
    ("my husband got a headache after his treatment", False),
    ("a friend of mine had a rash after botox", False),
    ("She said her lips swelled up after botox", True),
    ("my colleague's forehead was bruised for weeks", False),
    ("has anyone had a droopy eyelid after botox?", False),
    ("my friend's lips swelled up after botox", True),
    ("Her throat was tight after botox, is that common?", True),
    # someone else's past, habit, future, general people or a question about them
    ("my friend couldn't swallow for a day after her botox last year", True),
    ("my mum had trouble swallowing after her botox, is that common?", True),
    ("will my wife have trouble breathing now she has had botox?", True),
    ("my mum has trouble swallowing pills, can she still have botox?", True),
    ("my sister is going to have botox, worried she can't breathe after", True),
    ("my daughter is nervous her lips will swell now, what do we do to prevent it", True),
    ("my husband says his throat feels tight every time he has botox, should he avoid it?", True),
    ("my mum is having botox next week, does it make it hard to swallow?", True),
    ("people are having trouble breathing after botox now, is that true", True),
    ("my friend couldn't swallow after botox, now she's fine", True),
    ("my friend fainted after botox but she is ok now", True),
    ("my sister's eyelid is drooping now", False),
    # review of the first version: lasting conditions, eligibility, hearsay, over
    ("my dad cant breathe through his nose because of a deviated septum, can he have botox?", True),
    ("my mum had double vision after botox but it's gone now", True),
    ("my wife read that people cant breathe after botox now, is that true", True),
    ("please help, my friend had trouble swallowing after her botox and wants it again", True),
    ("my husband was hoarse after his botox but since then hes been fine", True),
    ("my mum has had trouble swallowing ever since her stroke, can she have botox?", True),
    ("mi madre no puede tragar pastillas, puede ponerse botox?", True),
    # second review: lasting conditions, hearsay about people, not speech at all
    ("my dad has slurred speech since he had a stroke, can you treat his frown lines", True),
    ("my husband has trouble breathing at night", True),
    ("my mum has difficulty swallowing, would botox for her jaw make it worse?", True),
    ("mi abuela no puede hablar desde el ictus", True),
    ("a la gente se le hinchan los labios con el botox?", True),
    ("mi suegra habla mal de la clinica", False),
    # Spanish reads negations, hearsay and "fine" from its own cues
    ("no noto que mis labios esten hinchados", False),
    ("no creo que mi garganta este cerrada", False),
    ("my mum had botox last year, couldn't swallow for a week", True),
    ("my sister had botox last month, trouble swallowing for a few days then fine", True),
    ("my friend had botox, trouble swallowing, is that common?", True),
    ("the results look like there's two different brows", False),
    # third review: counting is not double vision, coming out is not swallowing,
    # a verbless clause after a finished episode is past
    ("my daughters both want botox, there are two of them", False),
    ("I drink 2 litres of water a day and my spots keep coming out", False),
    ("I spilled my tea and it poured out all over me", False),
    ("my husband had botox last month, difficulty breathing for a day", True),
    ("my mum had botox in 2019, swollen lips", True),
    ("my daughter wants botox but she has trouble swallowing", True),
    ("no noto ya mis labios hinchados", False),
    ("I've heard some people can't swallow after botox", True),
]

NEGATION = [
    ("I have no trouble breathing or swallowing", False),
    ("I can breathe fine", False),
    ("not having any difficulty swallowing", False),
    ("no swelling at all", False),
    ("no fever", False),
    ("I'm not short of breath", False),
    ("no hives, no rash, no swelling", False),
    ("my throat doesn't feel tight", False),
    ("I'm not seeing double or anything", False),
    ("no slurred speech", False),
    ("voice is fine, no hoarseness", False),
    ("I haven't passed out or anything", False),
    ("I'm breathing normally and swallowing is fine", False),
    ("without any trouble breathing", False),
    ("never had any swelling", False),
    ("no bruising, no swelling, everything is great", False),
    ("my lip swelling has gone down", False),
    ("I don't have trouble breathing", False),
    ("I'm not choking or anything", False),
    ("I can swallow fine", False),
    ("no issues breathing", False),
    ("No facial swelling", False),
    ("I never lost my voice", False),
    ("no double vision, no blurry vision", False),
    ("I don't feel weak", False),
    ("my lips are not swollen", False),
    ("my throat isn't tight anymore", False),
    ("my face is no longer swollen", False),
    ("yesterday my lips were a bit swollen but it's gone now", False),
    ("nothing wrong with my breathing", False),
    ("I had trouble swallowing years ago with a different treatment", True),
]

CHITCHAT = [
    ("hi", False),
    ("thanks so much!", False),
    ("I'd like to book an appointment", False),
    ("how much does botox cost?", False),
    ("what are your opening hours?", False),
    ("can I reschedule to friday?", False),
    ("where are you located", False),
    ("my face looks amazing, thank you!", False),
    ("do you take insurance", False),
    ("I want botox for my forehead lines", False),
    ("Can I book a touch-up?", False),
    ("is parking available?", False),
    ("I love the results", False),
    ("see you tomorrow", False),
    ("ok", False),
    ("I'm away for 3 weeks, can I book after?", False),
    ("gonna head off now", False),
    ("number?", False),
    ("do you have an emergency number for after treatment", False),
    ("I can't make it tomorrow, can I reschedule?", False),
    ("I can't talk right now, text me", False),
    ("can't see any difference yet, is that normal?", False),
    ("the results are breathtaking", False),
    ("no worries", False),
    ("can you understand what I'm saying?", False),
    ("I can't understand what you're saying", False),
    ("they can understand me fine", False),
    ("my english is not good, people don't understand me, can I have an interpreter", False),
    ("the words on the leaflet aren't clear", False),
    ("can I drink water if I cough", False),
    ("coughing after I eat spicy food is normal for me, can I still have my forehead done", False),
    ("I've never had it last so long, the results are great", False),
    ("¿es muy doloroso el botox?", False),
    ("el cafe esta caliente, puedo tomarlo despues del botox?", False),
    ("best antihistamine for hay fever?", False),
    ("I'd like to book for my husband, he has a headache from frowning", False),
]

NON_REPORTS = FAQ + HYPOTHETICAL + THIRD_PARTY + NEGATION + CHITCHAT

# A named person's emergency sign happening now, written by whoever is with
# them: the advice is the same (call emergency services at once).
SOMEONE_ELSE_NOW = [
    "My daughter had botox and now she can't swallow",
    "my mum had botox but her lips are swelling",
    "my wife had botox this morning and now she can't breathe",
    "My husband's lips are swelling up after his botox, what do we do?",
    "my mum can't swallow since her botox yesterday, help",
    "my daughter had botox and now she is seeing double",
    "I'm writing for my dad, he had botox today and his throat feels tight",
    "my partner is slurring her words after botox",
    "my colleague is struggling to breathe since her injections an hour ago",
    "my grandma's face is swollen and she can barely speak",
    "her lips are swollen, help",
    "he's choking on water since his botox this morning",
    "my sister passed out just now after her botox",
    "my son can't breathe properly, ambulance?",
    "is my wife having an allergic reaction, her lips are swelling fast",
    "My dad had botox yesterday. He is finding it hard to swallow.",
    "i think my mum is having a stroke, her face is drooping and she cant speak properly",
    "My husband had botox this morning. He cant breathe. Help!",
    "help my sister fainted",
    "a mi madre le cuesta respirar desde el botox",
    "él no puede tragar desde su botox de esta mañana",
    # Spanish signs in the third person ("se le ...", "le cuesta")
    "mi marido se puso botox hoy y ahora se le atora la comida al tragar",
    "a mi hija se le sale el agua por la nariz desde el botox, que hacemos",
    "mi novia tiene los labios muy hinchados ahora mismo",
    "mi papá está hablando raro desde esta mañana, ayuda",
    # second review: a word elsewhere in the message does not cancel it
    "my wife had a top up this morning and now her throat is closing",
    "my mum usually is fine with botox but this time her lips are swelling",
    "my husband suddenly saw double just now",
    "my wife had botox, swollen lips and tongue. Help",
    "mi mama no puede tragar desde hace dos dias",
    "my grandad has been short of breath since his lip filler and botox session",
    # the person named in one clause, the sign alone in the next
    "my wife had botox today, can't swallow properly",
    "my daughter, 25, can't breathe after her botox",
    "my wife had botox today, swollen lips and tongue",
    # asking what to do now is not a question about what may happen
    "should my husband go to a&e his throat feels tight",
    "can he take an antihistamine his lips are swelling",
    "my wife had botox, she has trouble breathing",
    "my wife had botox 2 weeks ago, can't swallow properly",
    # a carer's panic about what is happening is not a worry about the future
    "I'm so scared my husband can't breathe",
]

# Negated red flag next to a real, milder symptom: a report, never an emergency.
NEGATION_WITH_SYMPTOM = [
    ("no trouble breathing, just a little bruise", "expected"),
    ("I can breathe fine but I have a headache", "expected"),
    ("no swelling but I've got a rash", "urgent"),
    ("not short of breath, just a bit sore", "expected"),
    ("no fever, but the redness is spreading", "urgent"),
    ("I have no trouble swallowing, my eyelid is drooping though", "urgent"),
    ("no hives and no trouble breathing, my forehead feels funny", "unclear"),
]

ROBUSTNESS = [
    pytest.param("", id="empty"),
    pytest.param("   \n\t  ", id="whitespace"),
    pytest.param("a" * 10_000, id="10k-same-letter"),
    pytest.param(("my face looks great and botox was nice. " * 300)[:10_000], id="10k-sentences"),
    pytest.param("no " * 3_333, id="10k-no-no-no"),
    pytest.param("😀" * 200, id="emoji-only"),
    pytest.param("<script>alert(1)</script>", id="html-script"),
    pytest.param("'; DROP TABLE x; --", id="sql"),
    pytest.param("\x00\x01\x02\x7f\ufffd binary \udcff ish", id="binary-ish"),
    pytest.param("İİİ ß ﬁ \u200b\u202e reversed", id="unicode-oddities"),
    pytest.param("?" * 5_000 + "." * 5_000, id="punctuation-only"),
    pytest.param(b"\xff\xfe bytes", id="bytes"),
    pytest.param(None, id="none"),
]


# ---------------------------------------------------------------------------
# Per-message assertions
# ---------------------------------------------------------------------------


def _check_report(text: str, severity: str) -> Assessment:
    result = assess(text)
    assert result.is_report, reason(result)
    assert result.severity == severity, reason(result)
    assert result.rule, reason(result)
    assert result.matched, reason(result)
    return result


@pytest.mark.parametrize("text", _cases("emergency", EMERGENCY))
def test_emergency_report(text: str) -> None:
    result = _check_report(text, "emergency")
    assert result.mentions_red_flag


@pytest.mark.parametrize("text", _cases("someone_else_now", SOMEONE_ELSE_NOW))
def test_someone_elses_emergency_happening_now_is_an_emergency(text: str) -> None:
    _check_report(text, "emergency")


@pytest.mark.parametrize("text", _cases("urgent", URGENT))
def test_urgent_report(text: str) -> None:
    _check_report(text, "urgent")


@pytest.mark.parametrize("text", _cases("expected", EXPECTED))
def test_expected_report(text: str) -> None:
    result = _check_report(text, "expected")
    assert not result.mentions_red_flag
    assert not result.worsening


@pytest.mark.parametrize("text", _cases("unclear", UNCLEAR))
def test_unclear_report(text: str) -> None:
    _check_report(text, "unclear")


@pytest.mark.parametrize(("text", "red_flag"), _pairs("nonreport", NON_REPORTS))
def test_not_a_report(text: str, red_flag: bool) -> None:
    result = assess(text)
    assert not result.is_report, reason(result)
    assert result.severity is None
    assert result.mentions_red_flag is red_flag, reason(result)


@pytest.mark.parametrize(("text", "severity"), _pairs("negated", NEGATION_WITH_SYMPTOM))
def test_negated_red_flag_with_other_symptom(text: str, severity: str) -> None:
    result = _check_report(text, severity)
    assert not result.mentions_red_flag


@pytest.mark.parametrize("text", ROBUSTNESS)
def test_robust_input_never_raises(text: object) -> None:
    result = assess(text)  # type: ignore[arg-type]
    assert isinstance(result, Assessment)
    assert result.severity != "emergency"
    assert not result.mentions_red_flag
    assert isinstance(reason(result), str)


# ---------------------------------------------------------------------------
# Summary metrics over the sets above
# ---------------------------------------------------------------------------


def test_emergency_recall_and_false_alarm_rate() -> None:
    caught = [t for t in EMERGENCY if assess(t).severity == "emergency"]
    recall = len(caught) / len(EMERGENCY)
    not_emergency = [t for t, _ in NON_REPORTS] + URGENT + EXPECTED + UNCLEAR
    not_emergency += [t for t, _ in NEGATION_WITH_SYMPTOM]
    alarms = [t for t in not_emergency if assess(t).severity == "emergency"]
    false_alarm_rate = len(alarms) / len(not_emergency)
    print(
        f"\nemergency recall {recall:.3f} ({len(caught)}/{len(EMERGENCY)}); "
        f"false-alarm rate {false_alarm_rate:.3f} ({len(alarms)}/{len(not_emergency)})"
    )
    assert recall == 1.0, sorted(set(EMERGENCY) - set(caught))
    assert false_alarm_rate == 0.0, alarms
    assert not [t for t, _ in NON_REPORTS if assess(t).is_report]


def test_case_counts_meet_the_brief() -> None:
    assert len(EMERGENCY) >= 60
    assert len(URGENT) >= 40
    assert len(EXPECTED) >= 40
    assert len(NON_REPORTS) >= 60
    assert len(UNCLEAR) >= 5
    assert len(set(EMERGENCY + URGENT + EXPECTED + UNCLEAR)) == len(
        EMERGENCY + URGENT + EXPECTED + UNCLEAR
    )


# ---------------------------------------------------------------------------
# Details of the result
# ---------------------------------------------------------------------------


def test_matched_quotes_the_patients_own_words() -> None:
    result = assess("Since yesterday I CAN’T BREATHE properly!!")
    assert result.rule == "breathing"
    assert result.matched == ("CAN’T BREATHE",)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        pytest.param("I can't breathe", "breathing", id="breathing"),
        pytest.param("my lips are swelling", "face_swelling", id="face_swelling"),
        pytest.param("the injection site is hot to the touch", "infection", id="infection"),
        pytest.param("a bruise on my forehead", "injection_site_bruising", id="bruising"),
        pytest.param("my eyelid is drooping", "droop", id="droop"),
        pytest.param("my eyelid is slightly droopy", "slight_droop", id="slight_droop"),
        pytest.param("my headache is getting worse", "worsening", id="worsening"),
        pytest.param("my face feels funny", "odd_sensation", id="odd_sensation"),
    ],
)
def test_rule_ids(text: str, rule: str) -> None:
    assert assess(text).rule == rule


def test_worsening_flag() -> None:
    assert assess("my headache is getting worse").worsening
    assert assess("the bruise has been there for a month").worsening
    assert not assess("a mild headache since yesterday").worsening
    assert not assess("it's not getting worse, just a small bruise").worsening
    assert not assess("what if it gets worse?").is_report


def test_red_flag_in_question_next_to_a_report() -> None:
    result = assess("I have a small bruise. Can botox cause trouble swallowing?")
    assert result.is_report and result.severity == "expected"
    assert result.mentions_red_flag


def test_emergency_beats_everything_else_in_a_message() -> None:
    result = assess("slight bruise and a mild headache, but my tongue is swelling")
    assert result.severity == "emergency"
    assert result.rule == "face_swelling"


def test_deterministic() -> None:
    text = "had botox yesterday and my lips are swelling, is that normal?"
    assert len({assess(text) for _ in range(20)}) == 1


# ---------------------------------------------------------------------------
# reason()
# ---------------------------------------------------------------------------


def test_reason_mentions_rule_and_matched_words() -> None:
    line = reason(assess("I can't breathe"))
    assert line == "emergency: breathing (matched: 'can't breathe')"


def test_reason_for_worsening_lists_symptom_and_cue() -> None:
    line = reason(assess("my headache is getting worse"))
    assert line.startswith("urgent: worsening")
    assert "'headache'" in line and "'getting worse'" in line


def test_reason_for_a_question_mentioning_a_red_flag() -> None:
    line = reason(assess("can botox cause trouble swallowing?"))
    assert line == "not a report; red flag mentioned: swallowing (matched: 'trouble swallowing')"


def test_reason_for_chitchat() -> None:
    assert reason(assess("what are your opening hours?")) == "not a report"


# ---------------------------------------------------------------------------
# The rules file
# ---------------------------------------------------------------------------


def _raw_rules() -> dict:
    return yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))


def test_rules_file_loads_with_every_level() -> None:
    rules = load_rules()
    for level in SEVERITIES:
        assert rules.by_level(level), level
    assert rules is load_rules(RULES_FILE)  # cached


def test_rule_ids_are_unique_and_described() -> None:
    raw = _raw_rules()
    ids = [rule["id"] for level in SEVERITIES for rule in raw[level]]
    ids += [raw["worsening"]["id"], raw["lasting"]["id"]]
    assert len(ids) == len(set(ids))
    for level in SEVERITIES:
        for rule in raw[level]:
            assert rule["description"].strip() and rule["patterns"], rule["id"]
    assert set(ids) == set(load_rules().ids)


def test_every_emergency_rule_is_exercised() -> None:
    fired = {assess(t).rule for t in EMERGENCY}
    assert {r.id for r in load_rules().by_level("emergency")} <= fired


def test_rules_file_documents_its_sections() -> None:
    text = RULES_FILE.read_text(encoding="utf-8")
    for heading in ("EMERGENCY", "URGENT", "EXPECTED", "UNCLEAR", "WORSENING", "CUES"):
        assert f"# {heading}" in text, heading
    assert "HOW PATTERNS ARE WRITTEN" in text


def _write(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def test_custom_rules_path(tmp_path: Path) -> None:
    raw = _raw_rules()
    raw["expected"][0]["patterns"].append("shiner")
    path = _write(tmp_path, raw)
    assert assess("I have a shiner", rules_path=path).severity == "expected"
    assert not assess("I have a shiner").is_report


def test_a_message_read_twice_is_triaged_once_until_the_rules_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The red-flag screen and the answer read one message: one triage."""
    decided: list[str] = []
    original = triage._decide
    monkeypatch.setattr(triage, "_decide", lambda *args: decided.append("x") or original(*args))
    raw = _raw_rules()
    path = _write(tmp_path, raw)
    first = assess("I have a shiner", rules_path=path)
    readings = len(decided)
    assert assess("I have a shiner", rules_path=path) is first
    assert len(decided) == readings
    assess("I have a shiner!", rules_path=path)
    assert len(decided) == 2 * readings
    # The red-flag screen names the clinic's emergency languages, the answer none.
    every_language = tuple(load_rules(path).languages)
    assert every_language  # the file has other languages, or this proves nothing
    assert assess("I have a shiner", rules_path=path, languages=every_language) is first
    assert assess("I have a shiner", rules_path=path, languages=[]) is not first
    raw["expected"][0]["patterns"].append("shiner")
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 10))  # make sure the edit is seen
    assert assess("I have a shiner", rules_path=path).severity == "expected"
    assert not first.is_report


def test_duplicate_rule_id_is_rejected(tmp_path: Path) -> None:
    raw = _raw_rules()
    raw["urgent"][0]["id"] = "breathing"
    with pytest.raises(RulesError, match="duplicate"):
        load_rules(_write(tmp_path, raw))


def test_emergency_rule_cannot_be_overridden(tmp_path: Path) -> None:
    raw = _raw_rules()
    raw["expected"][0]["overrides"] = ["breathing"]
    with pytest.raises(RulesError, match="cannot be overridden"):
        load_rules(_write(tmp_path, raw))


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda raw: raw.pop("emergency"), id="missing-section"),
        pytest.param(lambda raw: raw["urgent"][0].update(patterns=["(unclosed"]), id="bad-regex"),
        pytest.param(lambda raw: raw["urgent"][0].update(patterns=["{nope}"]), id="unknown-words"),
        pytest.param(lambda raw: raw["cues"].pop("negation"), id="missing-cue"),
    ],
)
def test_malformed_rules_are_rejected(tmp_path: Path, mutate) -> None:
    raw = _raw_rules()
    mutate(raw)
    with pytest.raises(RulesError):
        load_rules(_write(tmp_path, raw))


def test_missing_rules_file_raises_rules_error(tmp_path: Path) -> None:
    with pytest.raises(RulesError):
        assess("I can't breathe", rules_path=tmp_path / "absent.yml")


def test_default_path_is_next_to_the_project() -> None:
    assert triage.DEFAULT_RULES_PATH == RULES_FILE


def test_broken_edit_keeps_the_last_good_rules(tmp_path: Path, caplog) -> None:
    path = _write(tmp_path, _raw_rules())
    good = load_rules(path)
    path.write_text("emergency: [this is: not: valid", encoding="utf-8")
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 10))  # make sure the edit is seen
    assert load_rules(path) is good
    assert assess("I can't breathe", rules_path=path).severity == "emergency"
    assert "still using the last good version" in caplog.text


def test_internal_error_is_an_unclear_report_not_a_crash(monkeypatch) -> None:
    def broken(*_args: object) -> Assessment:
        raise RuntimeError("bug")

    monkeypatch.setattr(triage, "_decide", broken)
    triage.forget_recent()  # a verdict kept from an earlier test would be returned
    result = assess("my lips are swelling")
    assert (result.is_report, result.severity, result.rule) == (True, "unclear", "internal_error")
    monkeypatch.undo()
    assert assess("my lips are swelling").rule == "face_swelling"  # the failure was not kept


def test_overlapping_phrases_are_merged_and_quoted_once() -> None:
    result = assess("my eyelid is slightly droopy")
    assert result.matched == ("slightly droopy",)


@pytest.mark.parametrize(
    "text", ["I have a small bruise and no puedo respirar", "headache y no puedo respirar bien"]
)
def test_a_spanish_emergency_is_not_hidden_by_a_milder_english_finding(text: str) -> None:
    result = assess(text)
    assert result.severity == "emergency" and result.language == "es"
