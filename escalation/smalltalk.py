"""Greetings, thanks, goodbyes and off-topic chat: the bot answers these itself."""
from __future__ import annotations

import re
import unicodedata

from . import features
from .lexicon import words
from .text import fold

GREETING_REPLY = (
    "Hi! I'm EduConsult's virtual assistant. Ask me anything about studying abroad: universities, "
    "tests, visas, costs or scholarships. You can ask for a counsellor at any time."
)
THANKS_REPLY = "You're welcome! Is there anything else I can help you with?"
BYE_REPLY = (
    "Good luck with your plans! Our counsellors are available Mon–Fri 9:00–18:00 and Sat 10:00–14:00 "
    "if you need them."
)
ACK_REPLY = "Great. Is there anything else you'd like to know about studying abroad?"
IDENTITY_REPLY = (
    "I'm EduConsult's virtual assistant. I can answer common study-abroad questions straight away, "
    "and if you'd like a counsellor just say so and I'll connect you."
)
OFF_TOPIC_REPLY = (
    "I can only help with studying abroad, I'm afraid: universities, applications, English tests, "
    "visas, costs and scholarships. What would you like to know?"
)
LANGUAGE_REPLY = (
    "Sorry, I can only answer in English for now. You can ask your question in English, or ask for a "
    "counsellor and one of our team will help you."
)
UNCLEAR_REPLY = (
    "Sorry, I didn't quite catch that. Could you rephrase your question about studying abroad? "
    "You can also ask for a counsellor at any time."
)

_THANKS = words("""
thanks thank thx thnx thanx ty tysm cheers appreciate appreciated gracias merci danke obrigado obrigada
grazie dhanyavaad dhanyavad shukriya helpful
""")
_BYE = words("bye goodbye byee cya later adios chao revoir tschuss tchau arrivederci alvida night")
_GREETING = words("""
hi hii hiii hello helo hey heya hiya howdy yo greetings sup wassup morning afternoon evening hola buenas
buenos dias tardes noches bonjour salut bonsoir hallo guten tag morgen abend ola oi bom dia boa tarde noite
ciao buongiorno buonasera namaste namaskar
""")
# Greetings, thanks and goodbyes in the other languages the bot speaks, read as the classifier reads a
# message: "مرحبا" or "谢谢" is small talk, not a question the bot failed to catch.
_THANKS |= frozenset(features.words(features.normalise(
    "شكرا شكراً جزيلا جزيلاً مشكور 谢谢 多谢 感谢 धन्यवाद शुक्रिया cảm ơn cám ơn teşekkürler teşekkür ederim "
    "sağol sağolun terima kasih makasih")))
_GREETING |= frozenset(features.words(features.normalise(
    "مرحبا مرحباً اهلا أهلا السلام عليكم سلام صباح الخير مساء 你好 您好 नमस्ते नमस्कार हेलो xin chào chào "
    "merhaba selam selamlar halo hai selamat pagi siang sore malam")))
_BYE |= frozenset(features.words(features.normalise(
    "مع السلامة وداعا 再见 拜拜 अलविदा tạm biệt hoşça kal görüşürüz sampai jumpa")))
_ACK = words("""
ok okay k kk alright sure fine cool great got understood noted yes yeah yep no nope nah hmm hm oh ah see
perfect nice awesome good wonderful amazing excellent test testing
""")
_FILLER = words("""
so much very a lot there for the info information help your you all again and that thats is it everything
man bro dear sir maam madam team guys everyone bot i it good have day see soon care take will
de nada muchas mucho beaucoup vielen schon molte tante bahut
""")
_IDENTITY = re.compile(
    r"\b(are you|r u|ru|is this|am i (talking|chatting|speaking) (to|with)) (a |an )?(real |actual |live )?"
    r"(bot|robot|human|person|machine|ai|chatbot|automated|real|computer)\b|\bwho are you\b|\bwhat are you\b"
    r"|\byour name\b|\bhow are you\b|\bhow r u\b|\bhows it going\b|\bwhat can you do\b|\bwhat do you do\b"
)
# "Are you a bot?" in the other languages of the interface, folded: matched as phrases of the whole message
_IDENTITY_ELSEWHERE = (
    "还是机器人", "是机器人吗", "是真人吗", "你是机器人", "你是人吗", "是人工还是",
    "ボットですか", "人間ですか", "ロボットですか",
    "봇이에요", "봇인가요", "사람이에요", "사람인가요", "로봇이에요", "로봇인가요", "챗봇이에요", "챗봇인가요",
    "هل انت روبوت", "هل أنت روبوت", "انت بوت", "أنت بوت", "انت روبوت", "أنت روبوت", "هل انت انسان", "هل أنت إنسان",
    " ты бот", " вы бот", " ты робот", " вы робот", " ты человек", " вы человек",
    " eres un bot", " eres humano", " eres una persona", " eres un robot", " hablo con un bot", " hablo con una persona",
    " voce e um robo", " voce e um bot", " voce e humano", " voce e uma pessoa", " e um robo ou", " e um bot ou",
    " es tu un robot", " etes vous un robot", " es tu humain", " etes vous humain", " es tu un humain",
    " etes vous un humain", " etes vous une personne", " c est un bot",
    " bist du ein bot", " bist du ein mensch", " sind sie ein bot", " sind sie ein mensch", " bist du ein roboter",
    " sei un bot", " sei umano", " sei una persona", " sei un robot", " bot musun", " insan misin", " robot musun",
    " ban la bot", " ban la nguoi", " la nguoi that hay", " kamu bot", " kamu manusia", " kamu robot",
    " kya aap bot", " kya tum bot", " aap bot ho", " kya aap insaan", "क्या आप बॉट", "क्या आप इंसान",
    "کیا آپ بوٹ", "کیا آپ انسان",
    "আপনি কি বট", "আপনি কি মানুষ")


def _phrases(text: str) -> str:
    """Folded, with punctuation and symbols as spaces: combining marks (Devanagari vowels, Arabic hamza) stay."""
    kept = "".join(" " if unicodedata.category(c)[0] in "PS" else c for c in fold(text))
    return f" {' '.join(kept.split())} "


# a phrase written with a leading space is whole words; the others may sit inside a longer run of text
_IDENTITY_FOLDED = tuple(_phrases(p) if p.startswith(" ") else _phrases(p).strip() for p in _IDENTITY_ELSEWHERE)


def asks_identity(text: str) -> bool:
    """Whether a message in any of the interface's languages asks if the bot is a bot or a person."""
    flat = _phrases(text)
    return any(phrase in flat for phrase in _IDENTITY_FOLDED)


_YES = words("yes yeah yep yup ya yah sure ok okay please pls plz haan han ji alright fine definitely absolutely")
_YES_FILLER = words("do it that connect me please pls plz go ahead would be great thanks thank you a counsellor")
# "Yes" in the languages the bot speaks, read as the classifier reads a message (accents dropped;
# Chinese by character and pair): an offer shown in Spanish is taken up by "sí, por favor".
_YES |= frozenset(features.words(features.normalise(
    "sí claro vale dale oui ouais volontiers sim pode ja gerne klar jawohl हाँ हां जी ठीक 好 好的 是 是的 可以 嗯 "
    "نعم أجل اكيد أكيد حسنا طيب có vâng dạ được evet olur tamam tabii")))
_YES_FILLER |= frozenset(features.words(features.normalise(
    "por favor gracias s'il vous plaît svp merci d'accord obrigado obrigada bitte danke है कृपया धन्यवाद "
    "请 谢谢 的 吧 可 以 من فضلك شكرا لو سمحت làm ơn cảm ơn lütfen teşekkürler sağol")))


def accepts(tokens: list[str]) -> bool:
    """A short yes, as said to "would you like me to connect you with a counsellor?"."""
    return 0 < len(tokens) <= 6 and bool(set(tokens) & _YES) and all(t in _YES | _YES_FILLER for t in tokens)


def smalltalk_reply(tokens: list[str], flat: str) -> str | None:
    """The bot's reply when a message is only a greeting, thanks, goodbye or acknowledgement."""
    if _IDENTITY.search(flat):
        return IDENTITY_REPLY
    vocab = _THANKS | _BYE | _GREETING | _ACK | _FILLER
    if not tokens or not all(t in vocab for t in tokens):
        return None
    present = set(tokens)
    if present & _THANKS:
        return THANKS_REPLY
    if present & (_BYE - _GREETING):
        return BYE_REPLY
    if present & _GREETING:  # "chào" and "ciao" greet as well as part
        return GREETING_REPLY
    if present & _BYE:
        return BYE_REPLY
    return ACK_REPLY
