"""A phone as a sign-in method: a text with a code (:mod:`.sms`) or a call answered with #
(:mod:`.voice`), for the same number; what they share (:mod:`.common`), the numbers
(:mod:`.numbers`), the SMS-pumping limits (:mod:`.limits`) and the calls (:mod:`.calls`)."""
